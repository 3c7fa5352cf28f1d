"""`appliance up`: prepare the home, start the children, serve the control socket, stop cleanly."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from appliance import __version__
from appliance.application.children import build_children
from appliance.config import Config, all_knobs, tighten_file_mode
from appliance.errors import ApplianceError
from appliance.postgres import EmbeddedCluster
from appliance.proxy import check_node, find_proxy_command
from appliance.supervisor.checks import close_sessions
from appliance.supervisor.control import ControlServer, send_command
from appliance.supervisor.core import HEALTHY, Supervisor
from appliance.supervisor.logs import JournalSink, journal_fields, open_private, tail, under_systemd
from appliance.supervisor.polling import poll
from appliance.supervisor.ports import check_ports_free
from appliance.supervisor.process import MARKER, ProcessLauncher
from appliance.supervisor.spec import ChildSpec, StartFailed

log = logging.getLogger("appliance.supervisor")


def child_environment(config: Config) -> dict[str, str]:
    """What every child inherits: this home, the config file, and values given as options."""
    env = dict(os.environ)
    env.update(APPLIANCE_HOME=str(config.home.root), **{MARKER: str(config.home.root)})
    if config.file:
        env["APPLIANCE_CONFIG"] = str(config.file)
    env.update(option_environment(config))
    return env


def option_environment(config: Config) -> dict[str, str]:
    """Command-line option values as APPLIANCE_* variables, so children see the same config."""
    env = {}
    for info in all_knobs():
        if config.sources[f"{info.section}.{info.name}"] == "option":
            value = config.value(info)
            env[info.env_var] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def preflight(config: Config) -> None:
    """Refuse early, with the fix named, what would make the start fail."""
    config.home.check_owner()
    if config.home.is_locked():
        config.home.acquire_lock()  # raises AlreadyRunning with the pid
    check_node()
    find_proxy_command(config.proxy)
    if not config.postgres.url:
        from appliance.postgres import find_bin_dir

        find_bin_dir(config.postgres)


def check_ports(specs: list[ChildSpec]) -> None:
    for spec in specs:
        check_ports_free(spec)


def kill_leftovers(config: Config) -> list[int]:
    """Kill children left running by a supervisor of this home that died without stopping them."""
    killed = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(MARKER) == str(config.home.root):
                process.kill()
                killed.append(process.pid)
        except psutil.Error:
            continue
    if killed:
        psutil.wait_procs([psutil.Process(pid) for pid in killed if psutil.pid_exists(pid)], timeout=5)
        log.warning("killed %d process(es) left by a previous supervisor: %s", len(killed), killed)
    return killed


def run_foreground(config: Config, on_ready: Callable[[], None] = lambda: None) -> int:
    """Run the supervisor until stopped; ``on_ready`` is called once all children are healthy.

    Returns the exit code (0, or 128 + signal)."""
    home = config.home
    home.ensure()
    lock = home.acquire_lock()
    _log_to_file(config)
    if config.file and tighten_file_mode(config.file):
        log.warning("%s was readable by other users; its mode is now 0600", config.file)
    home.pid_file.write_text(f"{os.getpid()}\n")
    try:
        kill_leftovers(config)
        specs = build_children(config)
        check_ports(specs)
        if not config.postgres.url:
            _ensure_cluster(EmbeddedCluster(home, config.postgres))
        return asyncio.run(_serve(config, specs, on_ready))
    finally:
        home.pid_file.unlink(missing_ok=True)
        lock.close()


def _ensure_cluster(cluster: EmbeddedCluster) -> None:
    if not cluster.is_initialized():
        log.info("initialising the PostgreSQL cluster in %s (first start)", cluster.data_dir)
    began = time.monotonic()
    if cluster.ensure_initialized():
        log.info("cluster initialised in %.1f s", time.monotonic() - began)


async def _serve(config: Config, specs: list[ChildSpec], on_ready: Callable[[], None]) -> int:
    home = config.home
    launcher = ProcessLauncher(home.logs_dir, config.supervisor.log_max_bytes, config.supervisor.log_backups,
                               child_environment(config), cwd=home.root,
                               journal_home=home.root if under_systemd() else None)
    launcher.install()
    supervisor = Supervisor(specs, config.supervisor, launcher, log_tail=lambda name: tail(home.log_file(name), 15))
    stop_requested = asyncio.Event()
    received: list[int] = []
    started_at = time.time()

    def on_signal(sig: int) -> None:
        received.append(sig)
        log.info("received %s; stopping", signal.Signals(sig).name)
        stop_requested.set()

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        command = request["command"]
        if command == "status":
            phase = "stopping" if supervisor.stopping else "running"
            return {"ok": True, "supervisor": {"pid": os.getpid(), "home": str(home.root), "version": __version__,
                                               "started_at": started_at, "phase": phase},
                    "components": supervisor.status()}
        if command == "stop":
            stop_requested.set()
            return {"ok": True}
        if command == "restart":
            name = request.get("component")
            known = [c["name"] for c in supervisor.status()]
            if name is not None and name not in known:
                raise ApplianceError(f"no component named {name!r}; components: {', '.join(known)}.")
            return {"ok": True, "restarted": await supervisor.restart(name)}
        if command == "reload":
            return {"ok": True, "ports": supervisor.reload(str(request.get("component")))}
        raise ValueError(f"unknown command {command!r}")

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    control = ControlServer(home.control_socket, handle)
    await control.start()
    try:
        start = asyncio.create_task(supervisor.start())
        stop_wait = asyncio.create_task(stop_requested.wait())
        await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if start.done():
            try:
                start.result()
            except StartFailed as exc:
                log.error("%s", exc.message)
                raise
            _announce(config)
            on_ready()
            await stop_wait
        else:
            start.cancel()
    finally:
        began = time.monotonic()
        await supervisor.stop()
        await close_sessions()
        await control.close()
        launcher.uninstall()
        log.info("stopped in %.1f s", time.monotonic() - began)
    return 128 + received[0] if received else 0


def _announce(config: Config) -> None:
    log.info("appliance is up: portal %s, hub origin %s", config.addresses.portal_origin, config.addresses.hub_origin)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The supervisor's own log: a RotatingFileHandler whose files are made 0600 like the children's."""

    def _open(self) -> io.TextIOWrapper:
        os.close(open_private(Path(self.baseFilename)))
        return super()._open()


def _log_to_file(config: Config) -> None:
    handler = PrivateRotatingFileHandler(
        config.home.log_file("supervisor"), maxBytes=config.supervisor.log_max_bytes,
        backupCount=config.supervisor.log_backups,
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("appliance").addHandler(handler)
    if under_systemd():
        logging.getLogger("appliance").addHandler(JournalHandler(config.home.root))
    logging.getLogger("appliance").setLevel(logging.INFO)


class JournalHandler(logging.Handler):
    """The supervisor's own lines in the journal, with the fields of a component named ``supervisor``."""

    def __init__(self, home: Path):
        super().__init__()
        self.sink = JournalSink(journal_fields(home, "supervisor"))
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.send(self.format(record).encode("utf-8", "replace"))


def start_detached(config: Config, timeout_s: float = 180.0, progress: Any = print) -> dict[str, Any]:
    """Start `appliance up` in the background and wait until every component is healthy."""
    preflight(config)
    config.home.ensure()
    console = config.home.logs_dir / "supervisor.console"
    watched = [config.home.log_file("supervisor"), console]
    offsets = [path.stat().st_size if path.exists() else 0 for path in watched]
    env = {**os.environ, "APPLIANCE_HOME": str(config.home.root), **option_environment(config)}
    if config.file:
        env["APPLIANCE_CONFIG"] = str(config.file)
    with os.fdopen(open_private(console), "ab") as console_file:
        process = subprocess.Popen([sys.executable, "-m", "appliance", "up", "--background"], stdin=subprocess.DEVNULL,
                                   stdout=console_file, stderr=console_file, env=env, start_new_session=True,
                                   cwd=config.home.root)
    reported: set[str] = set()

    def status_so_far() -> dict[str, Any] | None:
        """The supervisor's status once it answers, each component's first healthy report shown."""
        if process.poll() is not None:
            output = "".join(_read_from(path, offset) for path, offset in zip(watched, offsets, strict=False))
            raise StartFailed("appliance stopped during start-up:\n" + output.strip()[-4000:])
        try:
            status: dict[str, Any] = send_command(config.home.control_socket, {"command": "status"}, timeout_s=5)
        except ApplianceError:
            return None
        for component in status["components"]:
            if component["state"] == HEALTHY and component["name"] not in reported:
                reported.add(component["name"])
                progress(f"  ✓ {component['name']:<9} {component['address']}")
        return status

    def all_healthy(status: dict[str, Any] | None) -> bool:
        components = status["components"] if status else []
        return bool(components) and all(c["state"] == HEALTHY for c in components)

    status = poll(status_so_far, all_healthy, timeout_s)
    if status is not None and all_healthy(status):
        return status
    raise StartFailed(f"appliance did not become healthy within {timeout_s:.0f} s; "
                      "see `appliance status` and `appliance logs`.")


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
