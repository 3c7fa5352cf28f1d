"""Shared test configuration. The harness that runs the real appliance is tests/harness.py;
fixtures built on it are in tests/integration/conftest.py; the in-process tier's (one PostgreSQL for the
session, the portal served in the test process) in tests/inprocess/conftest.py.

- ``localhost_names`` (session, automatic): every *.localhost name resolves to 127.0.0.1 in the test
  process, as in browsers, so that test clients reach the trial names.
"""

from __future__ import annotations

import pytest

from tests.harness import resolve_localhost_names


@pytest.fixture(scope="session", autouse=True)
def localhost_names() -> None:
    resolve_localhost_names()
