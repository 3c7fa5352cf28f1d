"""Shared test configuration. The harness that runs the real appliance is tests/harness.py;
fixtures built on it are in tests/integration/conftest.py; the in-process tier's (one PostgreSQL for the
session, the portal served in the test process) in tests/inprocess/conftest.py.

- ``localhost_names`` (session, automatic): every *.localhost name resolves to 127.0.0.1 in the test
  process, as in browsers, so that test clients reach the trial names.
- ``contents_managers``: makes RemoteContentsManagers (as a user server would hold) for a member of
  an appliance, and closes their connections after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from appliance.storage.contents_manager import RemoteContentsManager
from tests.harness import Appliance, mint_storage_token, resolve_localhost_names

ManagerFactory = Callable[..., RemoteContentsManager]


@pytest.fixture(scope="session", autouse=True)
def localhost_names() -> None:
    resolve_localhost_names()


@pytest.fixture
async def contents_managers() -> AsyncIterator[ManagerFactory]:
    opened: list[RemoteContentsManager] = []

    def make(appliance: Appliance, member: str, **traits: Any) -> RemoteContentsManager:
        manager = RemoteContentsManager(storage_url=f"{appliance.portal_url}/api/storage/v1", username=member,
                                        storage_token=mint_storage_token(appliance, member), **traits)
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        await manager.aclose()
