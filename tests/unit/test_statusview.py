"""`appliance status` as a person reads it."""

from __future__ import annotations

import time

from appliance.statusview import format_duration, render_status


def report(*states: str) -> dict:  # type: ignore[type-arg]
    return {
        "supervisor": {"version": "1.0", "home": "/var/lib/appliance", "pid": 10, "started_at": time.time() - 75},
        "components": [
            {"name": f"c{index}", "state": state, "pid": 100 + index if state == "healthy" else None,
             "uptime_s": 3700.0 if state == "healthy" else None, "restarts": index, "address": "127.0.0.1:1",
             "last_error": "" if state == "healthy" else "exited with code 1 at 10:00:00"}
            for index, state in enumerate(states)
        ],
    }


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (None, 5, 75, 3700, 200000)] == ["-", "5s", "1m 15s", "1h 01m", "2d 7h"]


def test_all_healthy() -> None:
    text = render_status(report("healthy", "healthy"))
    assert "supervisor pid 10, up 1m 15s" in text
    assert text.splitlines()[2].split() == ["COMPONENT", "STATE", "PID", "UPTIME", "RESTARTS", "ADDRESS", "LAST",
                                            "ERROR"]
    assert "c0         healthy  100  1h 01m  0" in text
    assert text.endswith("All components healthy.")


def test_problems_are_named_with_the_next_step() -> None:
    text = render_status(report("healthy", "crashloop"))
    assert "crashloop  -    -       1         127.0.0.1:1  exited with code 1 at 10:00:00" in text
    assert text.endswith("Not healthy: c1. See `appliance logs <component>`.")
    assert "\x1b[" in render_status(report("crashloop"), color=True)
