"""[supervisor]: how children are started, watched, restarted and stopped."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.knobs import knob


@dataclass(frozen=True)
class SupervisorSettings:
    """[supervisor] Process supervision: readiness, health checks, restarts, logs."""

    start_timeout_s: float = knob(
        60.0,
        "Seconds a child may take to become ready (its port or health URL answering) before the "
        "start counts as failed. Applies at the next start of that child.",
    )
    health_interval_s: float = knob(
        5.0, "Seconds between health checks of a running child: how soon one that hangs (still running, not "
        "answering) is reported, and restarted after restart_unhealthy_after_s. A child that exits is seen "
        "at once whatever this is. Each check costs the child and the supervisor CPU, on an idle box too. "
        "Applies at the next `appliance up`."
    )
    unhealthy_after_failures: int = knob(
        3,
        "Consecutive failed health checks after which a running child is reported unhealthy.",
    )
    restart_unhealthy_after_s: float = knob(
        30.0,
        "Seconds a child may stay unhealthy before the supervisor restarts it. 0 never restarts an "
        "unhealthy child that is still running (a child that exits is always restarted).",
    )
    backoff_initial_s: float = knob(
        0.5, "Delay before the first restart of a child that died; doubles with each further failure."
    )
    backoff_max_s: float = knob(30.0, "Upper bound of the restart delay, in seconds.")
    stable_after_s: float = knob(
        10.0,
        "Seconds a restarted child must stay up before its failure count is reset and the back-off "
        "starts again from backoff_initial_s.",
    )
    crashloop_after: int = knob(
        5,
        "Consecutive failed starts after which a child is reported as crash-looping. It is still "
        "restarted, every backoff_max_s seconds.",
    )
    stop_timeout_s: float = knob(
        18.0,
        "Seconds the whole shutdown may take. Each child gets its stop signal in reverse start order "
        "and a share of this time, then its process group is killed.",
    )
    log_max_bytes: int = knob(
        10_000_000, "Size at which a child's log file in $APPLIANCE_HOME/logs is rotated, in bytes."
    )
    log_backups: int = knob(5, "Rotated log files kept per child (<child>.log.1 … .N). 0 keeps none.")
