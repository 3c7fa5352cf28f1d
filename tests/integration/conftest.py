"""Fixtures that run the real `appliance` command (see tests/harness.py).

- ``appliance``: an ``Appliance`` handle (not started) for one test: ``.up()``, ``.cli(...)``,
  ``.status()``, ``.wait_healthy()``; on teardown it is stopped and its processes are killed.
- ``running_appliance``: one appliance started once for the module, for tests that only poke it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.harness import Appliance, free_ports, make_home


@pytest.fixture
def appliance() -> Iterator[Appliance]:
    handle = Appliance(make_home(), free_ports(4))
    try:
        yield handle
    finally:
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def running_appliance() -> Iterator[Appliance]:
    handle = Appliance(make_home(), free_ports(4))
    try:
        handle.up()
        yield handle
    finally:
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)
