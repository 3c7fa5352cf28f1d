"""The test harness: the real `appliance` command on a temporary home with free ports.

Self-contained (it imports nothing from the ``tests`` package), so that the upstream
jupyter_server suite, which runs as its own ``tests`` package, can load it by file path.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

# Ports for tests come from below the kernel's ephemeral range (32768-60999 here), which it hands out
# to outgoing connections and port-0 binds: a port probed free there could be taken by any client
# before the appliance bound it (a hub failed to start on "address already in use"). Nothing binds
# these but explicit configuration, and a lock file per block keeps concurrent test runs apart.
PORT_BLOCKS = range(20000, 32000, 16)  # 750 blocks of 16 consecutive ports
PORT_LOCKS = Path(tempfile.gettempdir()) / "appliance-test-ports"
_held_locks: list[Any] = []  # open lock files: a block stays ours while this process lives


def reserve_ports(count: int) -> list[int]:
    """``count`` (at most 16) consecutive loopback ports, free now and reserved for this process: no
    other test process gets them, and the kernel never picks them for a client or a port-0 bind."""
    PORT_LOCKS.mkdir(mode=0o777, exist_ok=True)
    start = random.randrange(len(PORT_BLOCKS))
    for index in range(len(PORT_BLOCKS)):
        first = PORT_BLOCKS[(start + index) % len(PORT_BLOCKS)]
        lock = open(PORT_LOCKS / str(first), "a")  # noqa: SIM115 - held until the process exits
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if all(_free(port) for port in range(first, first + count)):
            _held_locks.append(lock)
            return list(range(first, first + count))
        lock.close()  # something listens there: another block
    raise RuntimeError(f"no {count} consecutive free ports in {PORT_BLOCKS}")


_system_getaddrinfo = socket.getaddrinfo
# Domains a test serves from machines of a private network (tests/machine.py): the domain and every name under it
# resolve to that machine's address in this process, as a lab's DNS would resolve its own domain
DOMAINS: dict[str, str] = {"localhost": "127.0.0.1"}


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, (str, bytes)):
        name = (host.decode() if isinstance(host, bytes) else host).lower().rstrip(".")
        for domain, address in DOMAINS.items():
            if name == domain or name.endswith("." + domain):
                host = address
                break
    return _system_getaddrinfo(host, *args, **kwargs)


def resolve_localhost_names() -> None:
    """Resolve every *.localhost name to 127.0.0.1 in this process, as browsers do: the trial names
    (lab.localhost, hub.lab.localhost, <member>.hub.lab.localhost) then work for test clients too.
    Debian's resolver knows only "localhost" (libnss-myhostname would add the rest); the appliance's
    own processes never look these names up."""
    socket.getaddrinfo = _getaddrinfo


MARKER = "APPLIANCE_SUPERVISED_BY"
START_TIMEOUT_S = 90  # first start includes initdb; generous for a loaded 2-core machine


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Appliance:
    """One appliance home driven through the real command line."""

    def __init__(self, home: Path, ports: list[int]):
        self.home = home
        self.portal_port, self.proxy_port, self.api_port, self.pg_port = ports
        self.env = {
            **os.environ,
            "APPLIANCE_HOME": str(home),
            "APPLIANCE_PORTAL_PORT": str(self.portal_port),
            "APPLIANCE_PROXY_PORT": str(self.proxy_port),
            "APPLIANCE_PROXY_API_PORT": str(self.api_port),
            "APPLIANCE_POSTGRES_PORT": str(self.pg_port),
            # hubs take seconds to start and most tests do not need them: with_hubs() turns them on
            "APPLIANCE_HUBS_COUNT": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None
        # as an installation without a domain: the trial names, on the front proxy's port (on_bare_address())
        self.public_portal_url = f"http://lab.localhost:{self.proxy_port}"  # where browsers go
        self.proxy_url = f"http://hub.lab.localhost:{self.proxy_port}"  # the hub origin

    def on_bare_address(self) -> Appliance:
        """Serve the portal on its own port and the hubs on the proxy's, of 127.0.0.1: no host names, so
        members are not isolated from each other (what a lab on a bare IP address gets)."""
        self.env["APPLIANCE_PORTAL_PUBLIC_URL"] = self.public_portal_url = self.portal_url
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"
        return self

    def with_hubs(self, count: int = 2) -> Appliance:
        """Run ``count`` hubs, on free loopback ports."""
        self.env["APPLIANCE_HUBS_COUNT"] = str(count)
        if count:
            self.env["APPLIANCE_HUBS_FIRST_PORT"] = str(reserve_ports(count)[0])
        return self

    @property
    def portal_url(self) -> str:
        """The portal's own listener on loopback, as the appliance's processes reach it (APIs, tokens)."""
        return f"http://127.0.0.1:{self.portal_port}"


    def cli(self, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance", *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def up(self, wait: bool = True) -> None:
        """Start `appliance up` in the foreground as a child of the test, like an operator's shell."""
        log = open(self.home.parent / "up.out", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen([sys.executable, "-m", "appliance", "up"], env=self.env,
                                        stdout=log, stderr=log, start_new_session=True)
        log.close()
        if wait:
            self.wait_healthy()

    def output(self) -> str:
        path = self.home.parent / "up.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json", timeout=30)
        report: dict[str, Any] = json.loads(result.stdout)
        report["exit_code"] = result.returncode
        return report

    def component(self, name: str) -> dict[str, Any]:
        return next(c for c in self._running_report()["components"] if c["name"] == name)

    def component_pids(self) -> dict[str, int]:
        """Each component's process id: a restart changes it."""
        return {c["name"]: c["pid"] for c in self._running_report()["components"]}

    def _running_report(self) -> dict[str, Any]:
        report = self.supervisor_report()
        assert report is not None, f"appliance is not running:\n{self.output()}"
        return report

    def supervisor_report(self) -> dict[str, Any] | None:
        """The supervisor's report of its components from its control socket (what `status` shows, which
        tests of the command read with .status()), or None when no supervisor answers: no new interpreter
        per look, whose ~0.5 s of CPU a starting appliance on 2 cores would feel."""
        from appliance.errors import ApplianceError
        from appliance.home import Home
        from appliance.supervisor.control import send_command

        try:
            return send_command(Home(self.home).control_socket, {"command": "status"}, timeout_s=10)
        except ApplianceError:
            return None

    def wait_healthy(self, timeout: float = START_TIMEOUT_S, **expect: Any) -> dict[str, Any]:
        """Wait until every component is healthy (and ``expect`` holds for the supervisor's report)."""
        deadline = time.monotonic() + timeout
        report: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"appliance up exited with {self.process.returncode}:\n{self.output()}")
            report = self.supervisor_report()
            if (report is not None and all(c["state"] == "healthy" for c in report["components"])
                    and all(check(report) for check in expect.values())):
                return report
            time.sleep(0.1)
        pytest.fail(f"not healthy after {timeout} s: {json.dumps(report, indent=1)}\n{self.output()}")

    def database_url(self) -> str:
        from appliance.config import load_config
        from appliance.postgres import database_url

        config = load_config(environ=self.env)
        return database_url(config.home, config.postgres)

    def database_dump(self) -> str:
        """What pg_dump writes of the appliance's database (plain SQL), as a copy of it leaving the machine holds."""
        from appliance.db.pool import libpq_url
        from appliance.postgres import PostgresSettings, find_bin_dir

        return subprocess.run([str(find_bin_dir(PostgresSettings()) / "pg_dump"), libpq_url(self.database_url())],
                              capture_output=True, text=True, check=True).stdout

    def _proxy_api(self) -> httpx.Client:
        from appliance.config import load_config
        from appliance.proxy import TOKEN_SECRET

        token = load_config(environ=self.env).home.secret(TOKEN_SECRET)
        return httpx.Client(timeout=5, headers={"Authorization": f"token {token}"})

    def proxy_routes(self) -> dict[str, Any]:
        """The front proxy's routing table, from its REST API."""
        with self._proxy_api() as api:
            routes: dict[str, Any] = api.get(f"http://127.0.0.1:{self.api_port}/api/routes").raise_for_status().json()
        return routes

    def add_proxy_route(self, spec: str, target: str) -> None:
        with self._proxy_api() as api:
            api.post(f"http://127.0.0.1:{self.api_port}/api/routes{spec}", json={"target": target}).raise_for_status()

    def processes(self) -> list[psutil.Process]:
        """Every process that belongs to this home (started by its supervisor)."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(MARKER) == str(self.home):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for process in self.processes():  # never leave a test's processes behind
            with contextlib.suppress(psutil.Error):
                process.kill()


@contextlib.contextmanager
def started(handle: Appliance) -> Iterator[Appliance]:
    """``handle`` up for the block, and terminated after it (whatever happened in it)."""
    try:
        handle.up()
        yield handle
    finally:
        handle.terminate()


def make_home(started_once: bool = False) -> Path:
    """A home the PostgreSQL system user can traverse (pytest's tmp_path is mode 0700): empty, or with
    ``started_once`` a copy of a home this process started and stopped once (template_home())."""
    parent = Path(tempfile.mkdtemp(prefix=TEST_HOME_PREFIX))
    os.chmod(parent, 0o755)
    atexit.register(remove_member_accounts, parent)
    if started_once:
        # cp -a keeps the PostgreSQL user's ownership and modes, which shutil's copytree does not
        subprocess.run(["cp", "-a", str(template_home()), str(parent / "home")], check=True)
    return parent / "home"


TEST_HOME_PREFIX = "appliance-test-"


def remove_member_accounts(under: Path) -> None:
    """Delete the Unix accounts that the local spawner, under root, made for members of the homes in
    ``under``. Left behind, they use up the machine's user and group ids run after run."""
    if os.geteuid() != 0:
        return
    for account in pwd.getpwall():
        if account.pw_gecos.startswith("lab member ") and Path(account.pw_dir).is_relative_to(under):
            subprocess.run(["userdel", account.pw_name], capture_output=True)


def remove_stale_member_accounts(max_age_s: float = 12 * 3600) -> None:
    """The member accounts left by test runs that ended without their exit handlers (killed, or from
    before those existed): those whose test home is gone or older than any run lasts. A run beside this
    one keeps its accounts."""
    temp = Path(tempfile.gettempdir())
    for parent in {Path(a.pw_dir).parents[2] for a in pwd.getpwall() if a.pw_gecos.startswith("lab member ")
                   and Path(a.pw_dir).is_relative_to(temp) and len(Path(a.pw_dir).parents) > 3}:
        if not parent.name.startswith(TEST_HOME_PREFIX):
            continue
        try:
            stale = time.time() - parent.stat().st_mtime > max_age_s
        except FileNotFoundError:
            stale = True
        if stale:
            remove_member_accounts(parent)


_template: list[Path] = []


def template_home() -> Path:
    """A home as its first `appliance up` leaves it (cluster initialised, schema migrated, the first admin and
    the secrets made), stopped, without its logs and run state; made once per process. A copy saves a
    test's start initdb and the migrations (about 3 s of 11); what a first start does is tested on empty
    homes."""
    if not _template:
        handle = Appliance(make_home(), reserve_ports(4))
        with started(handle):
            pass
        for transient in ("logs", "run"):
            shutil.rmtree(handle.home / transient)
        (handle.home.parent / "up.out").unlink()
        atexit.register(shutil.rmtree, handle.home.parent, ignore_errors=True)
        _template.append(handle.home)
    return _template[0]




def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    """Terminate a started server, then kill it if it does not stop in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def mint_storage_token(appliance: Appliance, username: str, lifetime_s: int | None = None) -> str:
    """A storage token for ``username``, signed with the appliance's own key."""
    from appliance.config import load_config
    from appliance.storage import storage_tokens

    config = load_config(environ=appliance.env)
    return storage_tokens(config.home, config.storage).mint(username, lifetime_s)
