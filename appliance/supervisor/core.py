"""The supervisor: start children in the order they need each other, watch them, restart the dead, stop
everything.

Each service child is watched by one coroutine that runs its life cycle as a flat loop:
start → wait until ready → health-check until it dies → back off → start again. Operator commands
(restart, stop) act on the process; the child's coroutine notices the exit and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from appliance.errors import ApplianceError
from appliance.supervisor.backoff import RestartPolicy
from appliance.supervisor.ports import PortInUse, check_ports_free, listen_on_ports
from appliance.supervisor.process import ChildProcess, describe_exit
from appliance.supervisor.settings import SupervisorSettings
from appliance.supervisor.spec import CheckFailed, ChildSpec, StartFailed

log = logging.getLogger("appliance.supervisor")
READY_POLL_S = 0.1  # how often a starting child's readiness check is retried
CHECK_TIMEOUT_S = 5.0  # a single readiness or health check that takes longer has failed
RECENT_S = 24 * 3600  # the window of a child's "crashes lately" (`appliance doctor` reads them)

# The states `appliance status` reports.
STARTING, HEALTHY, UNHEALTHY, CRASHLOOP, STOPPED = "starting", "healthy", "unhealthy", "crashloop", "stopped"


class Launcher(Protocol):
    def spawn(self, spec: ChildSpec, sockets: Sequence[socket.socket] = ()) -> ChildProcess: ...
    def signal_group(self, pid: int, sig: int) -> None: ...
    def kill_orphans(self) -> list[int]: ...


@dataclass
class Child:
    spec: ChildSpec
    policy: RestartPolicy
    state: str = STOPPED
    process: ChildProcess | None = None
    started_wall: float | None = None  # time.time() of the current process's start
    started_at: float = 0.0  # clock() of the current process's start
    restarts: int = 0
    crashed_at: list[float] = field(default_factory=list)  # time.time() of each crash within RECENT_S
    last_error: str = ""
    health_failures: int = 0
    unhealthy_since: float | None = None
    restart_requested: bool = False
    sockets: list[socket.socket] = field(default_factory=list)  # listening for it (ChildSpec.inherits_ports)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def report(self, now_wall: float) -> dict[str, Any]:
        running = self.process is not None and not self.process.exited.done()
        return {
            "name": self.spec.name,
            "state": self.state,
            "pid": self.process.pid if running else None,  # type: ignore[union-attr]
            "uptime_s": round(now_wall - self.started_wall, 1) if running and self.started_wall else None,
            "restarts": self.restarts,
            "crashes_24h": sum(1 for at in self.crashed_at if now_wall - at < RECENT_S),
            "address": self.spec.address,
            "last_error": self.last_error,
        }


class Supervisor:
    """Runs ``specs``: each starts once those it needs are ready and stops once those that need it have stopped
    (``ChildSpec.after``); the module docstring tells each child's life cycle."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        settings: SupervisorSettings,
        launcher: Launcher,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        log_tail: Callable[[str], list[str]] = lambda name: [],
    ):
        self.settings = settings
        self.launcher = launcher
        self.clock = clock
        self.sleep = sleep
        self.log_tail = log_tail
        self.children = [
            Child(
                spec,
                RestartPolicy(
                    initial_s=settings.backoff_initial_s,
                    max_s=settings.backoff_max_s,
                    stable_after_s=settings.stable_after_s,
                    crashloop_after=settings.crashloop_after,
                ),
            )
            for spec in specs
        ]
        self.needs = {spec.name: spec.after if spec.after is not None else (before.name,) if before else ()
                      for spec, before in zip(specs, [None, *specs], strict=False)}
        unknown = {name for needed in self.needs.values() for name in needed if name not in self.needs}
        if unknown:
            raise ValueError(f"children named in `after` are not supervised: {sorted(unknown)}")
        self.stopping = False
        self._stopped = asyncio.Event()

    # ----- public interface -------------------------------------------------------------------

    async def start(self) -> None:
        """Start every child once the children it needs are ready, independent ones side by side; StartFailed
        (the others' starts cancelled) if one is not."""
        loop = asyncio.get_running_loop()
        ready: dict[str, asyncio.Future[None]] = {child.spec.name: loop.create_future() for child in self.children}
        starts = [asyncio.create_task(self._start_child(child, ready), name=f"start {child.spec.name}")
                  for child in self.children]
        try:
            await asyncio.gather(*starts)
        finally:
            for start in starts:
                start.cancel()

    async def _start_child(self, child: Child, ready: dict[str, asyncio.Future[None]]) -> None:
        for name in self.needs[child.spec.name]:
            await asyncio.shield(ready[name])
        if not self.stopping:  # else those after it come here too, and the start ends
            began = self.clock()
            await (self._run_oneshot(child) if child.spec.oneshot else self._first_start(child))
            log.info("%s ready in %.1f s", child.spec.description or child.spec.name, self.clock() - began)
        ready[child.spec.name].set_result(None)

    async def _first_start(self, child: Child) -> None:
        first_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        child.task = asyncio.create_task(self._supervise(child, first_ready), name=child.spec.name)
        await first_ready

    async def stop(self) -> None:
        """Stop each child once the children that need it have stopped, then kill whatever is left. Idempotent."""
        if self.stopping:
            await self._stopped.wait()
            return
        self.stopping = True
        deadline = self.clock() + self.settings.stop_timeout_s
        for child in self.children:
            if child.task is not None:
                child.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await child.task
        stopped = {child.spec.name: asyncio.Event() for child in self.children}

        async def stop_child(child: Child) -> None:
            for other, needed in self.needs.items():
                if child.spec.name in needed:
                    await stopped[other].wait()
            remaining = max(deadline - self.clock(), 0.5)
            await self._stop_process(child, timeout_s=min(remaining, self.settings.stop_timeout_s / 2))
            self._close_sockets(child)
            child.state = STOPPED
            stopped[child.spec.name].set()

        await asyncio.gather(*(stop_child(child) for child in self.children))
        leftovers = self.launcher.kill_orphans()
        if leftovers:
            log.warning("killed %d leftover process(es): %s", len(leftovers), leftovers)
        self._stopped.set()

    async def restart(self, name: str | None = None) -> list[str]:
        """Restart one service child (or all, in order). Returns the names restarted."""
        targets = [c for c in self.children if not c.spec.oneshot and (name is None or c.spec.name == name)]
        for child in targets:
            child.restart_requested = True
            await self._stop_process(child, timeout_s=self.settings.stop_timeout_s / 2)
        return [c.spec.name for c in targets]

    def reload(self, name: str) -> list[tuple[str, int]]:
        """Signal a child that reads its files again without a restart (``ChildSpec.reload_signal``); the
        addresses it listens on, for the caller to see the effect."""
        child = self.child(name)
        if child is None or child.spec.reload_signal is None:
            raise ApplianceError(f"{name} cannot reload its files in place.",
                                 hint=f"`appliance restart {name}` restarts it on them.")
        if child.process is None or child.process.exited.done():
            raise ApplianceError(f"{name} is not running ({child.state}).", hint="See `appliance status`.")
        self.launcher.signal_group(child.process.pid, child.spec.reload_signal)
        return [(port.host, port.port) for port in child.spec.ports]

    def status(self) -> list[dict[str, Any]]:
        now = time.time()
        return [child.report(now) for child in self.children if not child.spec.oneshot]

    def child(self, name: str) -> Child | None:
        return next((c for c in self.children if c.spec.name == name), None)

    # ----- one child's life cycle ---------------------------------------------------------------

    async def _supervise(self, child: Child, first_ready: asyncio.Future[None]) -> None:
        while not self.stopping:
            failed_start = await self._start_service(child)
            was_running = failed_start is None
            if failed_start is None:
                if not first_ready.done():
                    first_ready.set_result(None)
                else:
                    await self._hook(child, child.spec.on_restarted)
                failure = await self._watch(child)
            elif not first_ready.done():
                first_ready.set_exception(self._start_failed(child, failed_start))
                return
            else:
                failure = failed_start
                await self._hook(child, child.spec.on_failed_restart)
            if self.stopping:
                return
            child.restarts += 1
            if child.restart_requested:
                child.restart_requested = False
                log.info("%s restarted by request", child.spec.name)
                continue
            child.crashed_at = [at for at in child.crashed_at if time.time() - at < RECENT_S] + [time.time()]
            if was_running and child.state != CRASHLOOP:
                await self._hook(child, child.spec.on_crash)
            child.policy.record_exit(self.clock() - child.started_at)
            delay = child.policy.next_delay()
            child.state = CRASHLOOP if child.policy.crashlooping else UNHEALTHY
            child.last_error = f"{failure} at {time.strftime('%H:%M:%S')}"
            self._close_sockets(child)  # whoever comes while it is down is refused at once, not kept waiting
            log.warning("%s %s; restart %d in %.1f s", child.spec.name, failure, child.restarts, delay)
            await self.sleep(delay)

    async def _hook(self, child: Child, hook: Callable[[], Awaitable[None]] | None) -> None:
        """Await one of the spec's hooks (on_crash, on_failed_restart), for at most CHECK_TIMEOUT_S."""
        if hook is None:
            return
        try:
            await asyncio.wait_for(hook(), CHECK_TIMEOUT_S)
        except Exception as exc:  # the restart matters more
            log.warning("%s: %s failed (%s)", child.spec.name, getattr(hook, "__name__", "its hook"), exc)

    async def _start_service(self, child: Child) -> str | None:
        """Spawn and wait for readiness. Returns None when ready, else why it failed (process gone)."""
        try:  # a port another process holds: the start would fail, only seconds later
            if not child.spec.inherits_ports:
                check_ports_free(child.spec)
            elif not child.sockets:
                child.sockets = listen_on_ports(child.spec)
        except PortInUse as exc:
            return exc.message
        process = self._spawn(child)
        if isinstance(process, str):
            return process
        deadline = self.clock() + self.settings.start_timeout_s
        last = "no answer yet"
        while True:
            if child.spec.ready is None:
                break
            try:
                await asyncio.wait_for(child.spec.ready(), CHECK_TIMEOUT_S)
                break
            except (CheckFailed, asyncio.TimeoutError) as exc:
                last = str(exc) or "check timed out"
            if await self._exited_within(process, READY_POLL_S):
                self.launcher.signal_group(process.pid, signal.SIGKILL)
                return f"{describe_exit(process.exited.result())} while starting"
            if self.clock() > deadline:
                await self._stop_process(child, timeout_s=2.0)
                return f"not ready after {self.settings.start_timeout_s:.0f} s ({last})"
        if process.exited.done():  # whatever answered the check, it was not this child
            self.launcher.signal_group(process.pid, signal.SIGKILL)
            return f"{describe_exit(process.exited.result())} while starting"
        child.state = HEALTHY
        child.health_failures, child.unhealthy_since = 0, None
        return None

    async def _watch(self, child: Child) -> str:
        """Health-check a running child until it dies (or is killed for staying unhealthy)."""
        process = child.process
        assert process is not None
        while True:
            if await self._exited_within(process, self.settings.health_interval_s):
                self.launcher.signal_group(process.pid, signal.SIGKILL)  # no orphans of a dead child
                return describe_exit(process.exited.result())
            if child.policy.failures and self.clock() - child.started_at >= child.policy.stable_after_s:
                child.policy.record_stable()
                if child.state == CRASHLOOP:
                    child.state = HEALTHY
            if child.spec.health is None:
                continue
            try:
                await asyncio.wait_for(child.spec.health(), CHECK_TIMEOUT_S)
            except (CheckFailed, asyncio.TimeoutError) as exc:
                if process.exited.done():
                    continue
                self._health_failed(child, str(exc) or "health check timed out")
                limit = self.settings.restart_unhealthy_after_s
                if limit and child.unhealthy_since is not None and self.clock() - child.unhealthy_since >= limit:
                    reason = f"unhealthy for {limit:.0f} s ({child.last_error})"
                    await self._stop_process(child, timeout_s=self.settings.stop_timeout_s / 2)
                    return reason
                continue
            if child.state != HEALTHY:
                log.info("%s is healthy again", child.spec.name)
            child.state, child.health_failures, child.unhealthy_since = HEALTHY, 0, None

    def _health_failed(self, child: Child, error: str) -> None:
        child.health_failures += 1
        if child.health_failures >= self.settings.unhealthy_after_failures and child.state != UNHEALTHY:
            child.state, child.unhealthy_since = UNHEALTHY, self.clock()
            child.last_error = f"health check failing: {error}"
            log.warning("%s is unhealthy: %s", child.spec.name, error)

    async def _run_oneshot(self, child: Child) -> None:
        process = self._spawn(child)
        if isinstance(process, str):
            raise self._start_failed(child, process)
        if not await self._exited_within(process, self.settings.start_timeout_s):
            await self._stop_process(child, timeout_s=2.0)
            raise self._start_failed(child, f"did not finish within {self.settings.start_timeout_s:.0f} s")
        status = process.exited.result()
        child.state = STOPPED
        if status != 0:
            raise self._start_failed(child, describe_exit(status))

    # ----- helpers --------------------------------------------------------------------------------

    def _spawn(self, child: Child) -> ChildProcess | str:
        child.state = STARTING
        try:
            process = self.launcher.spawn(child.spec, child.sockets)
        except OSError as exc:
            child.last_error = f"cannot run {child.spec.argv[0]}: {exc.strerror or exc}"
            return child.last_error
        child.process, child.started_at, child.started_wall = process, self.clock(), time.time()
        log.info("started %s (pid %d)", child.spec.name, process.pid)
        return process

    async def _exited_within(self, process: ChildProcess, timeout_s: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.exited), timeout_s)
        return process.exited.done()

    async def _stop_process(self, child: Child, timeout_s: float) -> None:
        """Signal the child's group, wait up to ``timeout_s``, then SIGKILL the group."""
        process = child.process
        if process is None:
            return
        if not process.exited.done():
            self.launcher.signal_group(process.pid, child.spec.stop_signal)
            if not await self._exited_within(process, timeout_s):
                log.warning("%s did not stop within %.0f s; killing it", child.spec.name, timeout_s)
                self.launcher.signal_group(process.pid, signal.SIGKILL)
                await self._exited_within(process, 5.0)
        self.launcher.signal_group(process.pid, signal.SIGKILL)  # stragglers left in the group

    @staticmethod
    def _close_sockets(child: Child) -> None:
        while child.sockets:
            child.sockets.pop().close()

    def _start_failed(self, child: Child, reason: str) -> StartFailed:
        lines = self.log_tail(child.spec.name)
        detail = ("\nLast lines of its log:\n  " + "\n  ".join(lines)) if lines else ""
        return StartFailed(f"{child.spec.description or child.spec.name} failed to start: {reason}.{detail}")
