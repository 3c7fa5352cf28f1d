"""The audit component wired together: the recorder everyone calls, the store the console reads, pruning.

    audit = Audit(engine, config.audit)
    audit.record(actor, "sign-in.failed", target=name, detail={...})   # queue an event; never raises or waits
    audit.store.page(filters) / .stream(filters)                        # read (store.py)
    await audit.open()        # the portal: prune events older than audit.keep_days in the background
    await audit.close()       # writes what is queued, stops pruning
    audit.flush()             # tools and tests: wait until what was recorded is written
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from appliance.audit.events import Actor
from appliance.audit.recorder import Recorder, utc_now
from appliance.audit.settings import AuditSettings
from appliance.audit.store import EventStore

log = logging.getLogger("appliance.audit")
FIRST_PRUNE_S = 60.0  # after the portal starts: out of the way of its start-up


class Audit:
    def __init__(self, engine: Engine, settings: AuditSettings, clock: Callable[[], datetime] = utc_now):
        self.settings = settings
        self.clock = clock
        self.store = EventStore(engine)
        self.recorder = Recorder(self.store.write, clock=clock)
        self._pruning: asyncio.Task[None] | None = None

    def record(self, actor: Actor, action: str, target: object = "", detail: Mapping[str, Any] | None = None) -> None:
        """Queue an event (see recorder.py): who and from where, what, to what, and anything else as JSON."""
        self.recorder.record(actor, action, target, detail)

    def flush(self, timeout_s: float = 5.0) -> bool:
        return self.recorder.flush(timeout_s)

    def prune(self) -> int:
        """Delete the events older than audit.keep_days now; how many."""
        return self.store.prune(self.settings.keep_days, self.clock())

    async def open(self) -> None:
        if self.settings.keep_days > 0:
            self._pruning = asyncio.create_task(self._prune_forever())

    async def close(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruning
        await run_in_threadpool(self.recorder.close)

    async def _prune_forever(self) -> None:
        await asyncio.sleep(min(FIRST_PRUNE_S, self.settings.prune_interval_s))
        while True:
            try:
                deleted = await run_in_threadpool(self.prune)
            except Exception:
                log.warning("could not delete old audit events; trying again in %.0f s",
                            self.settings.prune_interval_s, exc_info=True)
            else:
                if deleted:
                    log.info("deleted %d audit event(s) older than %d days", deleted, self.settings.keep_days)
            await asyncio.sleep(self.settings.prune_interval_s)
