from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from appliance.audit.events import Actor, Event
from appliance.audit.flood import FloodGate
from appliance.audit.recorder import Recorder

AT = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)
ADA = Actor("ada", "10.0.0.7")


class Writer:
    """Stores batches; can be held (a slow database) or made to fail a number of times."""

    def __init__(self, failures: int = 0):
        self.batches: list[list[Event]] = []
        self.failures = failures
        self.open = threading.Event()
        self.open.set()

    def __call__(self, batch: Sequence[Event]) -> None:
        assert self.open.wait(10), "the test never released the writer"
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database down")
        self.batches.append(list(batch))

    @property
    def actions(self) -> list[str]:
        return [event.action for batch in self.batches for event in batch]


def recorder(writer: Writer, **options: object) -> Recorder:
    return Recorder(writer, clock=lambda: AT, sleep=lambda s: None, **options)  # type: ignore[arg-type]


def test_recording_never_waits_for_a_slow_database_and_batches_what_piled_up() -> None:
    writer = Writer()
    writer.open.clear()
    log = recorder(writer, batch=500)
    started = time.perf_counter()
    for n in range(2000):
        log.record(ADA, "sign-in.failed", target=f"user{n}")
    per_event_s = (time.perf_counter() - started) / 2000
    assert per_event_s < 0.001, f"record() took {per_event_s * 1e6:.0f} µs per event"
    writer.open.set()
    assert log.flush(10)
    assert len(writer.actions) == 2000
    assert len(writer.batches) <= 6  # the first alone, then batches of 500
    assert [e.target for e in writer.batches[-1]][-1] == "user1999"


def test_a_failed_write_is_retried_then_kept() -> None:
    writer = Writer(failures=2)
    log = recorder(writer)
    log.record(ADA, "password.changed", target="ada")
    assert log.flush(5)
    assert writer.actions == ["password.changed"]


def test_events_the_database_never_takes_go_to_the_log_as_json(caplog: pytest.LogCaptureFixture) -> None:
    writer = Writer(failures=100)
    log = recorder(writer, retry_delays_s=(0.0,))
    with caplog.at_level(logging.ERROR, "appliance.audit"):
        log.record(ADA, "sign-in", detail={"hub": 1})
        assert log.flush(5)
    assert writer.batches == []
    assert any('"action": "sign-in"' in r.getMessage() and '"actor": "ada"' in r.getMessage() for r in caplog.records)


def test_a_full_queue_drops_to_the_log_and_says_how_many_later(caplog: pytest.LogCaptureFixture) -> None:
    writer = Writer()
    writer.open.clear()
    log = recorder(writer, capacity=3)
    with caplog.at_level(logging.ERROR, "appliance.audit"):
        for n in range(10):
            log.record(ADA, "sign-in.failed", target=str(n))
        writer.open.set()
        assert log.flush(5)
        log.record(ADA, "sign-in")
        assert log.flush(5)
    lost = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert lost  # how many depends on how many the held writer took before it was held
    dropped = [e for batch in writer.batches for e in batch if e.action == "audit.dropped"]
    assert sum(e.detail["events"] for e in dropped) == len(lost)  # in one or two reports, as batches fell
    assert len([a for a in writer.actions if a != "audit.dropped"]) + len(lost) == 11


def test_a_bad_action_is_logged_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    writer = Writer()
    log = recorder(writer)
    with caplog.at_level(logging.ERROR, "appliance.audit"):
        log.record(ADA, "Not An Action")
    assert "could not make an event" in caplog.text
    assert log.flush(1) and writer.batches == []


def test_close_writes_what_is_queued_and_later_events_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    writer = Writer()
    log = recorder(writer)
    for _ in range(5):
        log.record(ADA, "sign-out")
    log.close()
    assert writer.actions == ["sign-out"] * 5
    with caplog.at_level(logging.ERROR, "appliance.audit"):
        log.record(ADA, "sign-in")
    assert "recorder is closed" in caplog.text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_from_one_address_is_kept_to_a_bound_and_its_size_told() -> None:
    kept: list[tuple[str, str, Any]] = []
    clock = Clock()
    gate = FloodGate(lambda actor, action, target="", detail=None: kept.append((actor.address, action, detail)),
                     per_minute=3, clock=clock)
    for _ in range(10):
        gate(Actor("", "10.0.0.9"), "token.refused", detail={"endpoint": "userinfo"})
    gate(Actor("", "10.0.0.8"), "token.refused")  # another address has its own bound
    assert len(kept) == 4
    clock.now = 61.0
    gate(Actor("", "10.0.0.9"), "token.refused", detail={"endpoint": "userinfo"})
    assert kept[-1] == ("10.0.0.9", "token.refused", {"endpoint": "userinfo", "suppressed": 7})
    gate(Actor("", "10.0.0.9"), "token.refused")
    assert kept[-1][2] is None  # nothing suppressed since
