"""Shared fixtures.

- ``free_ports``: a function returning N distinct free loopback TCP ports.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

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
