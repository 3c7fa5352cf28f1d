"""The in-process tier: the real portal (make_app, served by uvicorn on a loopback socket in a thread of
the test process) against one real PostgreSQL started once for the whole session, a fresh database for
each module. That PostgreSQL is what an external one is to the appliance (postgres.url): reached over TCP
by a host name with TLS (sslmode=verify-full against postgres.ca_file), as a role that is no superuser and
owns only its module's database. What only separate processes show (supervision, kill -9, hubs, the front
proxy, the browser) stays in tests/integration and tests/e2e.

- ``portal_in_process`` (module): an ``InProcessPortal``, an ``Appliance`` handle (tests/harness.py) whose portal
  runs here: ``.cli(...)``, ``.public_portal_url``, ``.portal_url``, ``.database_url()`` work as they do
  for a started appliance; what needs the supervisor (``.status()``) does not.
- ``new_portal`` (function): starts a portal for one test, with settings of its own; ``serving(cluster,
  renderer=False, **env)`` does the same for a block (a module's fixture), with the gallery's renderer
  as a process of its own when asked.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import uvicorn
from click.testing import CliRunner
from psycopg import sql
from sqlalchemy.engine import make_url
from starlette.routing import BaseRoute, Mount, Route

from appliance.application.portal import make_app
from appliance.cli import main
from appliance.config import load_config
from appliance.portal.guards import MAX_HEADER_BYTES
from appliance.postgres import SUPERUSER, EmbeddedCluster
from tests.harness import Appliance, make_home, reserve_ports, started, stop_process
from tests.tls import make_certificates

DATABASE_HOST = "db.lab.test"  # the name the server's certificate is for; reached at 127.0.0.1 (hostaddr)
ROLE = "lab"
START_TIMEOUT_S = 60  # initdb and the first start on a loaded 2-core machine
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


class SessionCluster:
    """One PostgreSQL cluster for the session, serving TLS with a certificate for DATABASE_HOST; each module gets
    a database of its own, owned by ROLE."""

    def __init__(self) -> None:
        self.home = make_home()
        self.port = reserve_ports(1)[0]
        config = load_config(home=self.home, environ={"APPLIANCE_POSTGRES_PORT": str(self.port)})
        self.cluster = EmbeddedCluster(config.home, config.postgres)
        self.cluster.ensure_initialized()
        self.ca_file, certificate, key = self._certificates()
        spec = self.cluster.child_spec()
        tls = ["-c", "ssl=on", "-c", f"ssl_cert_file={certificate}", "-c", f"ssl_key_file={key}"]
        self.process = subprocess.Popen([*spec.argv, *tls], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        **self.cluster.user_kwargs())
        self._wait_ready()
        self.role_password = uuid.uuid4().hex
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(ROLE), self.role_password))

    def _certificates(self) -> tuple[Path, Path, Path]:
        """(CA, certificate, key): the server's in its own private folder, owned by the user that runs it."""
        folder = self.cluster.socket_dir / "tls"
        folder.mkdir(mode=0o700)
        ca_file, certificate, key = make_certificates(folder, [DATABASE_HOST])
        if self.cluster.run_as:  # the server refuses a key that another user may read
            for path in (folder, certificate, key):
                shutil.chown(path, self.cluster.run_as, self.cluster.run_as)
        client = self.home.parent / "database-ca.pem"
        shutil.copy(ca_file, client)
        return client, certificate, key

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                psycopg.connect(self._dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def superuser(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A connection as the cluster's superuser (over its socket): the database administrator's."""
        return psycopg.connect(self._dsn(database), autocommit=True)

    def _dsn(self, database: str) -> str:
        return (f"postgresql://{SUPERUSER}:{quote(self.cluster.password, safe='')}@/{database}"
                f"?host={quote(str(self.cluster.socket_dir))}&port={self.port}")

    def hub_databases(self, *names: str) -> None:
        """Hubs' databases owned by ROLE, made by the administrator where missing (ROLE may not create databases);
        every module's appliance of the session shares them, as two appliances on one server would."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            existing = {name for name, in connection.execute("SELECT datname FROM pg_database").fetchall()}
            for name in set(names) - existing:
                connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                                sql.Identifier(ROLE)))

    def new_database(self) -> dict[str, str]:
        """A new, empty database owned by ROLE: its URL and CA file as settings (postgres.url, postgres.ca_file)."""
        name = f"m{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}" OWNER "{ROLE}"')
        url = f"postgresql://{ROLE}:{self.role_password}@{DATABASE_HOST}:{self.port}/{name}?hostaddr=127.0.0.1"
        return {"APPLIANCE_POSTGRES_URL": url, "APPLIANCE_POSTGRES_CA_FILE": str(self.ca_file)}

    @contextlib.contextmanager
    def refusing(self, database_url: str) -> Iterator[None]:
        """The database refuses every connection, and the ones it had are ended, for the block: what its
        clients meet while PostgreSQL restarts (the other modules' databases carry on)."""
        name = make_url(database_url).database
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                yield
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    def stop(self) -> None:
        # PostgreSQL's "fast" shutdown (SIGINT) ends the connections tests left open; SIGTERM would wait for
        # them to close (15 s, then SIGKILL, at the end of every run)
        self.process.send_signal(signal.SIGINT)
        stop_process(self.process)
        shutil.rmtree(self.home.parent, ignore_errors=True)


class InProcessPortal(Appliance):
    """The portal of a home whose database is a fresh one in the session's cluster, served in this process
    on its trial name (lab.localhost on one loopback port, the front proxy's and the portal's alike: no
    proxy stands between)."""

    def __init__(self, cluster: SessionCluster):
        port = reserve_ports(1)[0]
        super().__init__(make_home(), [port, port, port, cluster.port])
        self.env.update(cluster.new_database())
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))  # bound here, handed to uvicorn: never probed and released
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._renderer: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The `appliance` command's own code, run here (click's CliRunner) rather than in a new interpreter
        (0.5 s each): in a thread of its own, as it runs event loops of its own. tests/integration runs the
        installed command."""
        invoked = {**self.env, **(env or {})}
        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            result = worker.submit(CliRunner().invoke, main, list(args), env=invoked).result(timeout)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        return subprocess.CompletedProcess(["appliance", *args], result.exit_code, result.stdout, stderr)

    def up(self, wait: bool = True) -> None:
        load_config(environ=self.env).home.ensure()  # as `appliance up` does: its folders (run/, logs/, …)
        self.cli("db", "upgrade").check_returncode()  # the schema, the first admin
        self._serve()

    def restart(self) -> None:
        """What `appliance restart portal` does to it: stopped, then a new app started on the same socket."""
        self._stop()
        self._serve()

    def start_renderer(self) -> None:
        """The gallery's renderer, a process of its own as the supervisor runs it (its log: renderer.log)."""
        log = open(self.home.parent / "renderer.log", "ab")  # noqa: SIM115 - the child keeps it
        self._renderer = subprocess.Popen([sys.executable, "-m", "appliance.application.renderer"], env=self.env,
                                          stdout=log, stderr=log, start_new_session=True)
        log.close()

    def terminate(self) -> None:
        stop_process(self._renderer)
        self._stop()
        self._listener.close()
        shutil.rmtree(self.home.parent, ignore_errors=True)

    def _serve(self) -> None:
        app = make_app(load_config(environ=self.env))
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http="h11", lifespan="on",
                                                     h11_max_incomplete_event_size=MAX_HEADER_BYTES))
        # a duplicate, which uvicorn closes when it stops: the listening socket itself stays ours
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._listener.dup()]},
                                        name="portal", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process portal did not start")
            time.sleep(0.02)

    def _stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
        self._server = self._thread = None


def portal_routes(portal: Appliance) -> list[tuple[str, str]]:
    """(method, path) of every route in the portal's route table, mounts included, parameters filled with
    "x1"; HEAD left out."""
    def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, Mount) and route.routes:
                yield from walk(route.routes, prefix + route.path)
            elif isinstance(route, Route):
                for method in sorted(route.methods or ()):
                    yield method, prefix + route.path

    app = make_app(load_config(environ=portal.env))  # its route table only: never started
    return [(method, PARAMETER.sub("x1", path)) for method, path in walk(app.routes) if method != "HEAD"]


@contextlib.contextmanager
def serving(cluster: SessionCluster, renderer: bool = False, **env: str) -> Iterator[InProcessPortal]:
    """A portal on a fresh database of ``cluster``, with ``env`` (APPLIANCE_* settings) added, and with
    ``renderer`` the gallery's renderer, for the block."""
    handle = InProcessPortal(cluster)
    handle.env.update(env)
    with started(handle):
        if renderer:
            handle.start_renderer()
        yield handle


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[SessionCluster]:
    cluster = SessionCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def portal_in_process(postgres_cluster: SessionCluster) -> Iterator[InProcessPortal]:
    with serving(postgres_cluster) as handle:
        yield handle


@pytest.fixture
def new_portal(postgres_cluster: SessionCluster) -> Iterator[Callable[..., InProcessPortal]]:
    """Starts a portal of its own for one test, with ``env`` (APPLIANCE_* settings) added."""
    with contextlib.ExitStack() as portals:
        yield lambda **env: portals.enter_context(serving(postgres_cluster, **env))
