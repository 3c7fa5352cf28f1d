"""A child process described as data: what to run, how to tell it is ready and healthy."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import ApplianceError


class CheckFailed(Exception):
    """A readiness or health check did not pass; the message says what was observed."""


# A check returns when the child is ready/healthy and raises CheckFailed otherwise.
Check = Callable[[], Awaitable[None]]


class StartFailed(ApplianceError):
    """A child did not come up during the initial start of the appliance."""


@dataclass(frozen=True)
class Port:
    """A TCP port a child binds, checked free before the start; ``knob`` is the setting that moves it."""

    host: str
    port: int
    knob: str


@dataclass(frozen=True)
class ChildSpec:
    """One supervised child.

    ``oneshot`` children (initialisation steps such as migrations) run to completion and must exit 0;
    services run until stopped and are restarted when they die. A child starts once the children named in
    ``after`` are ready (oneshots: finished); with ``after`` left None, once the child before it in the list is.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this system user (only when the supervisor is root)
    ready: Check | None = None  # awaited after start, until it passes or start_timeout_s
    health: Check | None = None  # awaited every health_interval_s while running
    address: str = ""  # shown by `appliance status`
    ports: tuple[Port, ...] = ()
    # the supervisor listens on ``ports`` itself and every process of the child inherits the sockets
    # (ports.inherited_sockets): a connection that comes while it is restarted on request waits for the new
    # process instead of being refused (an upgrade's portal restart fails no sign-in)
    inherits_ports: bool = False
    reload_signal: int | None = None  # makes it read its files again without a restart (None: it cannot)
    oneshot: bool = False
    stop_signal: int = signal.SIGTERM
    description: str = ""  # what the child is, for progress lines ("PostgreSQL 15")
    after: tuple[str, ...] | None = None  # names of the children this one needs; None: the one before it
    # awaited when the running child died (or was killed for staying unhealthy), before it is started again
    on_crash: Callable[[], Awaitable[None]] | None = None
    # awaited when a restart failed (the child exited while starting, or was not ready in time): it is down
    on_failed_restart: Callable[[], Awaitable[None]] | None = None
    # awaited when the child is ready again after a restart (not after its first start)
    on_restarted: Callable[[], Awaitable[None]] | None = None
