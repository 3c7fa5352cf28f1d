"""Fixtures that run the real `appliance` command (see tests/harness.py).

- ``appliance``: an ``Appliance`` handle (not started) for one test: ``.up()``, ``.cli(...)``,
  ``.status()``, ``.wait_healthy()``; on teardown it is stopped and its processes are killed. Its home is
  a copy of one started once (harness.template_home: initdb and the migrations done, its secrets shared
  with the other copies); ``new_appliance`` has an empty home, for what a first start does.
- ``running_appliance``: one appliance started once for the module, for tests that only poke it.
- ``running_lab``: like ``running_appliance``, with two hubs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Appliance, make_home, reserve_ports, started


def handle_on(home: Path) -> Iterator[Appliance]:
    handle = Appliance(home, reserve_ports(4))
    try:
        yield handle
    finally:
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)


@pytest.fixture
def appliance() -> Iterator[Appliance]:
    yield from handle_on(make_home(started_once=True))


@pytest.fixture
def new_appliance() -> Iterator[Appliance]:
    yield from handle_on(make_home())


def running(hubs: int, bare_address: bool = False, **env: str) -> Iterator[Appliance]:
    """An appliance up for a whole module, with ``hubs`` hubs and ``env`` set: on the trial names
    (lab.localhost, hub.lab.localhost, <name>.hub.lab.localhost), or with ``bare_address`` on 127.0.0.1."""
    handle = Appliance(make_home(started_once=True), reserve_ports(4)).with_hubs(hubs)
    if bare_address:
        handle.on_bare_address()
    handle.env.update(env)
    try:
        with started(handle):
            yield handle
    finally:
        shutil.rmtree(handle.home.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def running_appliance() -> Iterator[Appliance]:
    yield from running(hubs=0)


@pytest.fixture(scope="module")
def running_lab() -> Iterator[Appliance]:
    yield from running(hubs=2)
