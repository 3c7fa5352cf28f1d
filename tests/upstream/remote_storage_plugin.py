"""The ``remote_storage`` fixture: one real appliance for the session, a new member per token."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/harness.py is self-contained; loaded by path because the name ``tests`` is upstream's here.
_spec = importlib.util.spec_from_file_location("appliance_harness", Path(__file__).resolve().parents[1] / "harness.py")
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
sys.modules["appliance_harness"] = harness
_spec.loader.exec_module(harness)


class RemoteStorage:
    def __init__(self, appliance: harness.Appliance):  # type: ignore[name-defined]
        self.appliance = appliance
        self.url = f"{appliance.portal_url}/api/storage/v1"

    def new_token(self) -> str:
        return harness.mint_storage_token(self.appliance, f"u{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def remote_storage() -> Iterator[RemoteStorage]:
    appliance = harness.Appliance(harness.make_home(), harness.reserve_ports(4))
    try:
        appliance.up()
        yield RemoteStorage(appliance)
    finally:
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)
