"""A bound on what strangers can make the log record: for events anyone can cause at no cost (a refused
token costs the sender one request), at most ``per_minute`` of one action from one address are kept a
minute; the rest are counted, and the count rides on the next one kept (``detail.suppressed``). The
audit log stays readable, and its table's size bounded, under a flood from one address.

Sign-in failures need no gate: the sign-in throttle already locks an address out after a few.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from appliance.audit.events import Actor
from appliance.audit.recorder import Record

WINDOW_S = 60.0
MAX_KEYS = 10_000  # (action, address) pairs remembered; older windows are forgotten past this


class FloodGate:
    def __init__(self, record: Record, per_minute: int = 30, clock: Callable[[], float] = time.monotonic):
        self._record = record
        self._per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int, int]] = {}  # key -> (start, kept, suppressed)

    def __call__(self, actor: Actor, action: str, target: object = "",
                 detail: Mapping[str, Any] | None = None) -> None:
        suppressed = self._admit((action, actor.address))
        if suppressed is None:
            return
        self._record(actor, action, target, {**(detail or {}), "suppressed": suppressed} if suppressed else detail)

    def _admit(self, key: tuple[str, str]) -> int | None:
        """None: suppress this one; else how many were suppressed since the last one kept."""
        now = self._clock()
        with self._lock:
            start, kept, suppressed = self._windows.get(key, (now, 0, 0))
            if now - start >= WINDOW_S:
                start, kept = now, 0
            if kept >= self._per_minute:
                self._windows[key] = (start, kept, suppressed + 1)
                return None
            self._windows[key] = (start, kept + 1, 0)
            if len(self._windows) > MAX_KEYS:
                self._forget(now)
            return suppressed

    def _forget(self, now: float) -> None:
        for key, (start, _, suppressed) in list(self._windows.items()):
            if now - start >= WINDOW_S and not suppressed:
                del self._windows[key]
