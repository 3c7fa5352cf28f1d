"""Shared fixtures.

- ``appliance_home``: an empty home directory the PostgreSQL system user can traverse.
- ``free_ports``: a function returning N distinct free loopback TCP ports.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def free_ports() -> Callable[[int], list[int]]:
    return _free_ports


@pytest.fixture
def appliance_home() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is mode 0700, and PostgreSQL runs as its own user under root.
    parent = Path(tempfile.mkdtemp(prefix="appliance-test-"))
    os.chmod(parent, 0o755)
    yield parent / "home"
    shutil.rmtree(parent, ignore_errors=True)
