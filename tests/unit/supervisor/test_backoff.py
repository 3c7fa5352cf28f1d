"""Restart back-off: doubling, capped, jittered, reset after a stable run; crash-loop threshold."""

from __future__ import annotations

import random

from appliance.supervisor.backoff import RestartPolicy


def policy() -> RestartPolicy:
    return RestartPolicy(initial_s=0.5, max_s=30.0, stable_after_s=10.0, crashloop_after=5, jitter=0.0)


def test_delay_doubles_and_is_capped() -> None:
    restarts = policy()
    delays = []
    for _ in range(9):
        restarts.record_exit(uptime_s=1.0)
        delays.append(restarts.next_delay())
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_crashloop_after_consecutive_failures_and_reset_after_stable_run() -> None:
    restarts = policy()
    for _ in range(4):
        restarts.record_exit(uptime_s=0.2)
    assert not restarts.crashlooping
    restarts.record_exit(uptime_s=0.2)
    assert restarts.crashlooping
    restarts.record_exit(uptime_s=60.0)  # it had been up a minute: a fresh series
    assert restarts.failures == 1 and restarts.next_delay() == 0.5


def test_jitter_stays_within_bounds_and_under_the_cap() -> None:
    restarts = RestartPolicy(initial_s=1.0, max_s=4.0, stable_after_s=10.0, crashloop_after=5, jitter=0.2)
    rng = random.Random(7)
    restarts.record_exit(uptime_s=0.0)
    samples = [restarts.next_delay(rng) for _ in range(200)]
    assert min(samples) >= 0.8 and max(samples) <= 1.2 and len(set(samples)) > 100
    for _ in range(5):
        restarts.record_exit(uptime_s=0.0)
    assert max(restarts.next_delay(rng) for _ in range(200)) <= 4.0
