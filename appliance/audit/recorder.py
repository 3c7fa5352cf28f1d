"""Recording events without making anyone wait: ``record`` queues, one thread writes.

``record`` is what every component calls (identity's sign-ins, the admin console, the CLI). It makes
the event, puts it on a bounded queue and returns in microseconds; it never raises and never blocks,
so a slow or unreachable database can neither fail nor slow a sign-in. One writer thread takes what is
queued, up to ``batch`` events at a time (a flood of failed sign-ins becomes a few multi-row inserts),
and writes them. A batch that cannot be written is retried; one that still fails, and any event that
finds the queue full, goes to the process's log at ERROR as JSON (nothing vanishes unsaid), and the
log records how many were lost (``audit.dropped``) once it can write again.

Events queued when the process dies are lost (milliseconds' worth); ``close`` (a command's end, the
portal's shutdown) writes what is queued first.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from appliance.audit.events import SYSTEM, Actor, Event, make_event

log = logging.getLogger("appliance.audit")

CAPACITY = 10_000  # events queued before more are dropped (to the log)
BATCH = 500  # events written in one statement
RETRY_DELAYS_S = (0.2, 1.0, 3.0)  # a batch that fails is tried again after each of these, then logged and dropped


class Record(Protocol):
    """The one function callers hold: ``record(actor, "sign-in.failed", target=name, detail={...})``."""

    def __call__(self, actor: Actor, action: str, target: object = "",
                 detail: Mapping[str, Any] | None = None) -> None: ...


def no_record(actor: Actor, action: str, target: object = "", detail: Mapping[str, Any] | None = None) -> None:
    """For tools and tests that record nothing."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Recorder:
    def __init__(self, write: Callable[[Sequence[Event]], None], *, clock: Callable[[], datetime] = utc_now,
                 capacity: int = CAPACITY, batch: int = BATCH, retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
                 sleep: Callable[[float], None] = time.sleep):
        """``write`` stores a batch in one transaction or raises; ``clock`` stamps each event."""
        self._write = write
        self._clock = clock
        self._batch = batch
        self._retry_delays_s = retry_delays_s
        self._sleep = sleep
        self._queue: queue.Queue[Event | None] = queue.Queue(capacity)
        self._lock = threading.Condition()
        self._pending = 0  # queued or being written
        self._dropped = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def record(self, actor: Actor, action: str, target: object = "",
               detail: Mapping[str, Any] | None = None) -> None:
        """Queue an event. Never raises, never waits."""
        try:
            event = make_event(self._clock(), actor, action, target, detail)
        except Exception:
            log.exception("audit: could not make an event of %r by %r", action, actor)
            return
        with self._lock:
            if self._closed:
                self._lose([event], "the recorder is closed")
                return
            self._start()
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self._dropped += 1
                self._lose([event], "the queue is full")
                return
            self._pending += 1

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued so far was written (or given up on); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout_s``) and stop the writer."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self.flush(timeout_s)
        self._queue.put(None)
        thread.join(timeout_s)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._batch:
                try:
                    event = self._queue.get_nowait()
                except queue.Empty:
                    break
                if event is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(event)
            self._write_batch(batch)

    def _write_batch(self, batch: list[Event]) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        rows = list(batch)
        if dropped:
            rows.append(make_event(self._clock(), SYSTEM, "audit.dropped", detail={"events": dropped}))
        for delay in (*self._retry_delays_s, None):
            try:
                self._write(rows)
                break
            except Exception:
                if delay is None:
                    log.exception("audit: could not write %d event(s); they follow", len(rows))
                    self._lose(rows, "the database refused them")
                    break
                log.warning("audit: could not write %d event(s); trying again in %.1f s", len(rows), delay,
                            exc_info=True)
                self._sleep(delay)
        with self._lock:
            self._pending -= len(batch)
            self._lock.notify_all()

    @staticmethod
    def _lose(events: Sequence[Event], why: str) -> None:
        for event in events:
            log.error("audit event not stored (%s): %s", why, json.dumps(event.to_json(), ensure_ascii=True))
