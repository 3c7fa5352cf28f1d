"""The supervisor's life cycle, driven by a scripted launcher: no real processes, no sleeps."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from appliance.errors import ApplianceError
from appliance.supervisor.core import Supervisor
from appliance.supervisor.process import ChildProcess
from appliance.supervisor.settings import SupervisorSettings
from appliance.supervisor.spec import CheckFailed, ChildSpec, Port, StartFailed
from tests.harness import reserve_ports

FAST = SupervisorSettings(
    start_timeout_s=1.0, health_interval_s=0.01, unhealthy_after_failures=2, restart_unhealthy_after_s=0.05,
    backoff_initial_s=0.01, backoff_max_s=0.02, stable_after_s=5.0, crashloop_after=3, stop_timeout_s=1.0,
)


class ScriptedLauncher:
    """Spawns pretend processes; a test makes them exit, or lets signals end them."""

    def __init__(self) -> None:
        self.spawned: list[tuple[str, ChildProcess]] = []
        self.signals: list[tuple[str, int]] = []
        self.die_on_start: set[str] = set()  # names whose processes exit at once with code 1
        self.ignore_term: set[str] = set()  # names whose processes survive everything but SIGKILL
        self.inherited: list[list[socket.socket]] = []  # the sockets each spawned process was given
        self.before_spawn: Callable[[], object] = lambda: None  # a test's look at the world as a process starts

    def spawn(self, spec: ChildSpec, sockets: Sequence[socket.socket] = ()) -> ChildProcess:
        process = ChildProcess(pid=1000 + len(self.spawned), exited=asyncio.get_running_loop().create_future())
        self.spawned.append((spec.name, process))
        self.inherited.append(list(sockets))
        self.before_spawn()
        if spec.name in self.die_on_start:
            process.exited.set_result(1 << 8)
        return process

    def signal_group(self, pid: int, sig: int) -> None:
        name, process = next((n, p) for n, p in self.spawned if p.pid == pid)
        self.signals.append((name, sig))
        ends = sig == signal.SIGKILL or (sig != signal.SIGHUP and name not in self.ignore_term)  # HUP: a reload
        if not process.exited.done() and ends:
            process.exited.set_result(sig)  # wait status of a process killed by ``sig``

    def kill_orphans(self) -> list[int]:
        return []

    def current(self, name: str) -> ChildProcess:
        return [p for n, p in self.spawned if n == name][-1]


def service(name: str, **kwargs: object) -> ChildSpec:
    return ChildSpec(name=name, argv=[name], **kwargs)  # type: ignore[arg-type]


async def wait_until(condition: object, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


async def test_children_start_in_order_each_ready_before_the_next() -> None:
    launcher = ScriptedLauncher()
    seen_when_b_checked: list[str] = []

    async def b_ready() -> None:
        seen_when_b_checked.append(supervisor.child("a").state)  # type: ignore[union-attr]

    supervisor = Supervisor([service("a"), service("b", ready=b_ready)], FAST, launcher)
    await supervisor.start()
    assert [name for name, _ in launcher.spawned] == ["a", "b"]
    assert seen_when_b_checked == ["healthy"]
    assert [c["state"] for c in supervisor.status()] == ["healthy", "healthy"]
    await supervisor.stop()


async def test_children_named_in_after_are_ready_first_and_independent_ones_start_side_by_side() -> None:
    launcher = ScriptedLauncher()
    db_ready = asyncio.Event()

    async def db_check() -> None:
        if not db_ready.is_set():
            raise CheckFailed("not yet")

    supervisor = Supervisor([service("db", ready=db_check), service("proxy", after=()),
                             service("web", after=("db", "proxy"))], FAST, launcher)
    start = asyncio.create_task(supervisor.start())
    await wait_until(lambda: [name for name, _ in launcher.spawned] == ["db", "proxy"])  # proxy did not wait for db
    await asyncio.sleep(0.05)
    assert "web" not in [name for name, _ in launcher.spawned]
    db_ready.set()
    await start
    assert [name for name, _ in launcher.spawned] == ["db", "proxy", "web"]
    await supervisor.stop()


async def test_a_failed_start_ends_the_start_before_the_children_that_need_it() -> None:
    launcher = ScriptedLauncher()
    launcher.die_on_start.add("db")

    async def never_ready() -> None:
        raise CheckFailed("waiting")

    supervisor = Supervisor([service("db"), service("slow", after=(), ready=never_ready),
                             service("web", after=("db",))], FAST, launcher)
    with pytest.raises(StartFailed, match="db failed to start"):
        await supervisor.start()
    assert "web" not in [name for name, _ in launcher.spawned]
    await supervisor.stop()


def test_after_naming_no_child_is_refused() -> None:
    with pytest.raises(ValueError, match="db"):
        Supervisor([service("web", after=("db",))], FAST, ScriptedLauncher())


async def test_a_child_stops_once_those_that_need_it_have_and_independent_ones_stop_side_by_side() -> None:
    launcher = ScriptedLauncher()
    launcher.ignore_term.update({"hub-1", "hub-2"})  # each makes the stop wait its timeout, then kills it
    supervisor = Supervisor([service("portal"), service("hub-1", after=("portal",)),
                             service("hub-2", after=("portal",))], FAST, launcher)
    await supervisor.start()
    await supervisor.stop()
    order = launcher.signals.index
    for one, other in (("hub-1", "hub-2"), ("hub-2", "hub-1")):  # both asked before either is killed
        assert order((one, signal.SIGTERM)) < order((other, signal.SIGKILL))
    assert order(("portal", signal.SIGTERM)) > max(order(("hub-1", signal.SIGKILL)), order(("hub-2", signal.SIGKILL)))


async def test_a_dead_child_is_restarted_and_counted() -> None:
    launcher = ScriptedLauncher()
    supervisor = Supervisor([service("a")], FAST, launcher)
    await supervisor.start()
    launcher.current("a").exited.set_result(3 << 8)  # exit code 3
    await wait_until(lambda: len(launcher.spawned) == 2 and supervisor.status()[0]["state"] == "healthy")
    report = supervisor.status()[0]
    assert report["restarts"] == 1
    assert report["last_error"].startswith("exited with code 3 at ")
    assert ("a", signal.SIGKILL) in launcher.signals  # the dead child's group is cleaned up
    await supervisor.stop()


async def test_a_running_child_that_died_has_its_crash_hook_run_before_the_restart_and_a_failed_start_not() -> None:
    launcher, crashes, failed_restarts = ScriptedLauncher(), [], []

    async def on_crash() -> None:
        crashes.append(len(launcher.spawned))  # how many starts there were when it ran

    async def on_failed_restart() -> None:
        failed_restarts.append(len(launcher.spawned))

    supervisor = Supervisor([service("hub", on_crash=on_crash, on_failed_restart=on_failed_restart,
                                     ready=lambda: asyncio.sleep(0))], FAST, launcher)
    await supervisor.start()
    launcher.current("hub").exited.set_result(9)  # killed by SIGKILL while running
    await wait_until(lambda: len(launcher.spawned) == 2 and supervisor.status()[0]["state"] == "healthy")
    assert crashes == [1]  # before the second start
    assert await supervisor.restart("hub") == ["hub"]  # asked for: no crash
    await wait_until(lambda: len(launcher.spawned) == 3 and supervisor.status()[0]["state"] == "healthy")
    launcher.die_on_start.add("hub")  # dies again, then fails its starts: one crash, then failed starts
    launcher.current("hub").exited.set_result(9)
    await wait_until(lambda: len(launcher.spawned) >= 6)
    assert crashes == [1, 3]
    assert failed_restarts[:2] == [4, 5]  # each failed restart, after it
    await supervisor.stop()


async def test_the_restarted_hook_runs_once_a_restarted_child_is_ready_and_not_after_the_first_start() -> None:
    """The front proxy's: a restarted proxy knows no routes, and the hubs are told to add theirs again."""
    launcher, restarted = ScriptedLauncher(), []

    async def on_restarted() -> None:
        restarted.append((len(launcher.spawned), supervisor.status()[0]["state"]))

    supervisor = Supervisor([service("proxy", on_restarted=on_restarted, ready=lambda: asyncio.sleep(0))], FAST,
                            launcher)
    await supervisor.start()
    await asyncio.sleep(0.05)
    assert restarted == []
    launcher.current("proxy").exited.set_result(9)
    await wait_until(lambda: len(restarted) == 1)
    assert restarted == [(2, "healthy")]  # after the second start, once it was ready
    assert await supervisor.restart("proxy") == ["proxy"]  # asked for, too
    await wait_until(lambda: len(restarted) == 2)
    await supervisor.stop()


async def test_a_restart_whose_port_is_taken_fails_at_once_naming_the_holder() -> None:
    """Not spawned to fail seconds later at its bind (a hub imports JupyterHub first): a hub that stays down is
    known to be down sooner, and its members move sooner."""
    launcher = ScriptedLauncher()
    failed_restarts: list[int] = []

    async def on_failed_restart() -> None:
        failed_restarts.append(len(launcher.spawned))

    port = reserve_ports(1)[0]
    spec = service("hub", ports=(Port("127.0.0.1", port, "hubs.first_port"),), on_failed_restart=on_failed_restart,
                   ready=lambda: asyncio.sleep(0))
    supervisor = Supervisor([spec], FAST, launcher)
    await supervisor.start()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        launcher.current("hub").exited.set_result(9)
        await wait_until(lambda: len(failed_restarts) >= 2)
        assert len(launcher.spawned) == 1  # no start was tried
        assert f"port {port} (the hub) is already in use by pid {os.getpid()}" in supervisor.status()[0]["last_error"]
    await wait_until(lambda: supervisor.status()[0]["state"] == "healthy")  # free again: it comes back
    assert len(launcher.spawned) == 2
    await supervisor.stop()


def connects(port: int) -> bool:
    with socket.socket() as client:
        client.settimeout(1)
        return client.connect_ex(("127.0.0.1", port)) == 0


async def test_a_child_that_inherits_its_port_keeps_its_queue_across_a_requested_restart_not_a_crash() -> None:
    """The supervisor listens for it: a connection that comes between the old process and the new is queued
    for the new one (an upgrade's portal restart); while a crashed one waits to start again, it is refused."""
    launcher = ScriptedLauncher()
    port = reserve_ports(1)[0]
    spec = service("portal", ports=(Port("127.0.0.1", port, "portal.port"),), inherits_ports=True,
                   ready=lambda: asyncio.sleep(0))
    slow_backoff = replace(FAST, backoff_initial_s=0.5, backoff_max_s=0.5)
    supervisor = Supervisor([spec], slow_backoff, launcher)
    await supervisor.start()
    [listening] = launcher.inherited[0]
    assert listening.getsockname() == ("127.0.0.1", port) and connects(port)  # queued: no process accepts here

    old = launcher.current("portal")
    stopped_old: list[bool] = []
    launcher.before_spawn = lambda: stopped_old.append(old.exited.done() and connects(port))
    assert await supervisor.restart("portal") == ["portal"]
    await wait_until(lambda: len(launcher.spawned) == 2)
    assert stopped_old == [True]  # the old one was gone and a connection still waited, for the new one
    assert launcher.inherited[1] == [listening] and listening.fileno() != -1  # the same socket, still open

    launcher.current("portal").exited.set_result(9)  # a crash
    await wait_until(lambda: supervisor.status()[0]["state"] == "unhealthy")
    assert listening.fileno() == -1 and not connects(port)  # refused at once while it waits to start again
    await wait_until(lambda: len(launcher.spawned) == 3 and supervisor.status()[0]["state"] == "healthy")
    [listening_again] = launcher.inherited[2]
    assert listening_again.getsockname() == ("127.0.0.1", port) and connects(port)
    await supervisor.stop()
    assert listening_again.fileno() == -1 and not connects(port)


async def test_a_port_to_inherit_that_another_process_holds_fails_the_start_naming_the_holder() -> None:
    port = reserve_ports(1)[0]
    spec = service("portal", ports=(Port("127.0.0.1", port, "portal.port"),), inherits_ports=True)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        supervisor = Supervisor([spec], FAST, ScriptedLauncher())
        with pytest.raises(StartFailed) as failed:
            await supervisor.start()
        await supervisor.stop()
    assert f"port {port} (the portal) is already in use by pid {os.getpid()}" in str(failed.value)


async def test_repeated_failures_are_reported_as_crashloop() -> None:
    launcher = ScriptedLauncher()
    supervisor = Supervisor([service("a", ready=lambda: asyncio.sleep(0))], FAST, launcher)
    await supervisor.start()
    launcher.die_on_start.add("a")
    launcher.current("a").exited.set_result(1 << 8)
    await wait_until(lambda: supervisor.status()[0]["state"] == "crashloop")
    assert supervisor.status()[0]["restarts"] >= FAST.crashloop_after
    launcher.die_on_start.clear()  # the cause goes away: it comes back by itself
    await wait_until(lambda: supervisor.status()[0]["state"] == "healthy")
    await supervisor.stop()


async def test_a_child_that_fails_its_first_start_stops_the_start_with_its_log() -> None:
    launcher = ScriptedLauncher()
    launcher.die_on_start.add("b")
    supervisor = Supervisor([service("a"), service("b", ready=lambda: asyncio.sleep(0)), service("c")], FAST,
                            launcher, log_tail=lambda name: [f"{name}: FATAL could not bind"])
    with pytest.raises(StartFailed) as failure:
        await supervisor.start()
    assert "b failed to start: exited with code 1 while starting" in failure.value.message
    assert "b: FATAL could not bind" in failure.value.message
    assert "c" not in [name for name, _ in launcher.spawned]
    await supervisor.stop()


async def test_readiness_timeout_fails_the_start() -> None:
    async def never_ready() -> None:
        raise CheckFailed("connection refused")

    supervisor = Supervisor([service("a", ready=never_ready)], replace(FAST, start_timeout_s=0.1),
                            ScriptedLauncher())
    with pytest.raises(StartFailed, match=r"not ready after 0 s \(connection refused\)"):
        await supervisor.start()
    await supervisor.stop()


async def test_oneshot_must_exit_zero() -> None:
    launcher = ScriptedLauncher()
    launcher.die_on_start.add("migrate")
    supervisor = Supervisor([service("migrate", oneshot=True)], FAST, launcher)
    with pytest.raises(StartFailed, match="migrate failed to start: exited with code 1"):
        await supervisor.start()
    assert supervisor.status() == []  # one-shot steps are not components


async def test_stop_goes_in_reverse_order_with_each_childs_signal_then_kills() -> None:
    launcher = ScriptedLauncher()
    launcher.ignore_term.add("b")
    supervisor = Supervisor([service("a", stop_signal=signal.SIGINT), service("b")],
                            replace(FAST, stop_timeout_s=0.2), launcher)
    await supervisor.start()
    await supervisor.stop()
    a_first = launcher.signals.index(("a", signal.SIGINT))
    assert launcher.signals[:2] == [("b", signal.SIGTERM), ("b", signal.SIGKILL)]  # b ignored TERM: killed
    assert all(name == "b" for name, _ in launcher.signals[:a_first])  # b was done before a was touched
    assert [c["state"] for c in supervisor.status()] == ["stopped", "stopped"]


async def test_an_unhealthy_child_is_reported_then_restarted() -> None:
    healthy = True

    async def health() -> None:
        if not healthy:
            raise CheckFailed("GET /healthz answered 500")

    launcher = ScriptedLauncher()
    supervisor = Supervisor([service("a", health=health)], replace(FAST, restart_unhealthy_after_s=0.3), launcher)
    await supervisor.start()
    healthy = False
    await wait_until(lambda: supervisor.status()[0]["state"] == "unhealthy")
    assert "GET /healthz answered 500" in supervisor.status()[0]["last_error"]
    await wait_until(lambda: len(launcher.spawned) == 2)
    healthy = True
    await wait_until(lambda: supervisor.status()[0]["state"] == "healthy")
    assert supervisor.status()[0]["restarts"] == 1
    await supervisor.stop()


async def test_restart_on_request_is_immediate_and_counted() -> None:
    launcher = ScriptedLauncher()
    supervisor = Supervisor([service("a"), service("b")], replace(FAST, backoff_initial_s=10, backoff_max_s=10),
                            launcher)
    await supervisor.start()
    assert await supervisor.restart("b") == ["b"]
    await wait_until(lambda: len(launcher.spawned) == 3 and supervisor.status()[1]["state"] == "healthy")
    assert supervisor.status()[1]["restarts"] == 1
    assert supervisor.status()[1]["last_error"] == ""
    await supervisor.stop()


async def test_reload_signals_a_child_that_can_and_refuses_one_that_cannot() -> None:
    launcher = ScriptedLauncher()
    port = reserve_ports(1)[0]
    proxy = service("proxy", reload_signal=signal.SIGHUP, ports=(Port("127.0.0.1", port, "proxy.port"),))
    supervisor = Supervisor([proxy, service("hub-1")], FAST, launcher)
    await supervisor.start()
    try:
        assert supervisor.reload("proxy") == [("127.0.0.1", port)]
        assert launcher.signals == [("proxy", signal.SIGHUP)]
        assert not launcher.current("proxy").exited.done()  # signalled, not restarted
        for name in ("hub-1", "nothing"):
            with pytest.raises(ApplianceError) as refused:
                supervisor.reload(name)
            assert f"{name} cannot reload its files in place" in str(refused.value)
            assert f"`appliance restart {name}`" in str(refused.value)
    finally:
        await supervisor.stop()
    with pytest.raises(ApplianceError, match="proxy is not running"):
        supervisor.reload("proxy")
