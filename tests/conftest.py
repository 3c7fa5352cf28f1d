"""Shared test configuration. The harness that runs the real appliance is tests/harness.py;
fixtures built on it are in tests/integration/conftest.py; the in-process tier's (one PostgreSQL for the
session, the portal served in the test process) in tests/inprocess/conftest.py.

- ``localhost_names`` (session, automatic): every *.localhost name resolves to 127.0.0.1 in the test
  process, as in browsers, so that test clients reach the trial names.
- ``no_stale_member_accounts`` (session, automatic): the Unix accounts made for members by earlier runs
  that were killed are deleted (each run deletes its own at exit), so runs never exhaust the ids.
- ``built_wheel`` (session): the appliance's wheel as pip builds it from this checkout, in pip's isolated
  build environment; built once per run for the packaging test and the fresh machine's upgrade.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import remove_stale_member_accounts, resolve_localhost_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def localhost_names() -> None:
    resolve_localhost_names()


@pytest.fixture(scope="session", autouse=True)
def no_stale_member_accounts() -> None:
    remove_stale_member_accounts()


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(target), str(ROOT)],
                   check=True, capture_output=True)
    return next(target.glob("appliance-*.whl"))
