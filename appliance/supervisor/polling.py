"""Waiting, from outside the supervisor, for something it or a process does: asked again until it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float = 0.2) -> T:
    """Ask ``probe()`` every ``interval_s`` until ``done`` holds for its answer or ``timeout_s`` has passed;
    its last answer (the caller tells a timeout by ``done`` not holding). What ``probe`` raises ends the wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if done(answer) or time.monotonic() >= deadline:
            return answer
        time.sleep(interval_s)
