"""The embedded PostgreSQL cluster: find the binaries, initdb once, describe the server child.

As root the cluster runs as a system user (``postgres`` by default): initdb and postgres refuse
to run as root. The server listens on a Unix socket in <home>/run/postgres and on a loopback port;
every login needs the generated password (SCRAM).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from appliance.errors import ApplianceError
from appliance.home import Home, check_reachable_by
from appliance.postgres.settings import PostgresSettings
from appliance.supervisor.spec import Check, CheckFailed, ChildSpec, Port

SUPERUSER = "appliance"
DATABASE = "appliance"
INSTALL_HINT = (
    "Install the server with `apt-get install postgresql` (Debian/Ubuntu), set postgres.bin_dir to the "
    "directory holding initdb and postgres, or use an external server with postgres.url."
)


class PostgresError(ApplianceError):
    """The embedded cluster cannot be set up or started."""


def find_bin_dir(settings: PostgresSettings, candidates: list[Path] | None = None) -> Path:
    """The directory with initdb and postgres, or PostgresError naming the package to install."""
    if settings.bin_dir:
        directory = Path(settings.bin_dir)
        if not (directory / "initdb").is_file() or not (directory / "postgres").is_file():
            raise PostgresError(f"postgres.bin_dir = {settings.bin_dir} holds no initdb and postgres.",
                                hint=INSTALL_HINT)
        return directory
    for directory in candidates if candidates is not None else _default_candidates():
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresError("PostgreSQL server binaries (initdb, postgres) were not found.", hint=INSTALL_HINT)


def client_bin_dir(server_major: int) -> Path:
    """The directory of the newest pg_dump and pg_restore here, refused when older than the server's major
    version ``server_major`` (pg_dump cannot dump a newer server)."""
    found: dict[int, Path] = {}
    for directory in _default_candidates():
        if (directory / "pg_dump").is_file() and (directory / "pg_restore").is_file():
            version = program_version(directory, "pg_dump")
            found.setdefault(int(version.split(".")[0]) if version[0].isdigit() else 0, directory)
    if not found:
        raise PostgresError("pg_dump and pg_restore were not found.",
                            hint="Install them with `apt-get install postgresql-client`.")
    newest = max(found)
    if newest < server_major:
        raise PostgresError(f"pg_dump {newest} (in {found[newest]}) cannot dump the server's PostgreSQL "
                            f"{server_major}.", hint=f"Install postgresql-client-{server_major} (from "
                            "PostgreSQL's own apt repository, apt.postgresql.org, where Debian has no such version).")
    return found[newest]


def _default_candidates() -> list[Path]:
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            found.append(Path(result.stdout.strip()))

    def version_of(path: str) -> float:
        match = re.search(r"/postgresql/([\d.]+)/bin", path)
        return float(match.group(1)) if match else 0.0

    found += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_of, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).parent)
    return found


def sqlalchemy_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and select the psycopg 3 driver."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


class EmbeddedCluster:
    """The cluster in <home>/postgres, run by the supervisor as the child ``postgres``."""

    def __init__(self, home: Home, settings: PostgresSettings):
        self.home = home
        self.settings = settings
        self.data_dir = home.root / "postgres" / "data"
        self.socket_dir = home.run_dir / "postgres"
        self.run_as = settings.system_user if os.geteuid() == 0 else None

    @property
    def password(self) -> str:
        return self.home.secret("postgres-password")

    def url(self, database: str = DATABASE) -> str:
        return (f"postgresql+psycopg://{SUPERUSER}:{quote(self.password, safe='')}@/{database}"
                f"?host={quote(str(self.socket_dir))}&port={self.settings.port}")

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def ensure_initialized(self) -> bool:
        """Run initdb unless the cluster exists. Returns True if it was created now."""
        bin_dir = find_bin_dir(self.settings)
        self._ensure_dirs()
        if self.is_initialized():
            self._check_version(bin_dir)
            return False
        # The password file must be readable by the cluster's user: put it in its private socket dir.
        password_file = self.socket_dir / "initdb-password"
        password_file.write_text(self.password + "\n")
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        os.chmod(password_file, 0o600)
        try:
            result = subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={password_file}",
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale"],
                capture_output=True, text=True, check=False, **self.user_kwargs(),
            )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed in {self.data_dir} (exit {result.returncode}):\n"
                                f"{(result.stdout + result.stderr).strip()}")
        return True

    def child_spec(self, network_address: str = "") -> ChildSpec:
        """The server, on loopback; with ``network_address`` (nodes.address) on that address too, for hub nodes:
        TLS with the certificate network_certificate() hands them, password logins, no superuser's."""
        bin_dir = find_bin_dir(self.settings)
        listen, ports = ["127.0.0.1"], [Port("127.0.0.1", self.settings.port, "postgres.port")]
        served: list[str] = []
        if network_address:
            files = self._network_files(network_address)
            listen.append(network_address)
            ports.append(Port(network_address, self.settings.port, "postgres.port"))
            served = ["-c", "ssl=on", "-c", f"ssl_cert_file={files['cert']}", "-c", f"ssl_key_file={files['key']}",
                      "-c", f"hba_file={files['hba']}"]
        return ChildSpec(
            name="postgres",
            description=f"PostgreSQL {program_version(bin_dir)}",
            argv=[str(bin_dir / "postgres"), "-D", str(self.data_dir), "-k", str(self.socket_dir),
                  "-p", str(self.settings.port), "-c", f"listen_addresses={','.join(listen)}",
                  "-c", "unix_socket_permissions=0700", *served],
            user=self.run_as,
            ready=self.check(),
            health=self.check(),
            address=f"{', '.join(listen)}:{self.settings.port}",
            ports=tuple(ports),
            stop_signal=signal.SIGINT,  # "fast" shutdown: do not wait for clients to disconnect
        )

    def network_certificate(self, network_address: str) -> str:
        """The certificate the cluster serves on ``network_address`` (PEM): hub nodes verify the server with it."""
        return self._network_files(network_address)["cert"].read_text()

    def _network_files(self, network_address: str) -> dict[str, Path]:
        from appliance.postgres.network import served_files

        self._ensure_dirs()
        entry = pwd.getpwnam(self.run_as) if self.run_as else None
        return served_files(self.data_dir.parent, network_address, SUPERUSER,
                            (entry.pw_uid, entry.pw_gid) if entry else None)

    def check(self) -> Check:
        """Pass when the server answers SELECT 1 over a password login.

        The connection is kept between checks (a SCRAM login every two seconds costs real CPU on a
        small box) and made again whenever a check fails."""
        import psycopg

        kept: list[psycopg.AsyncConnection[Any]] = []

        async def check() -> None:
            try:
                if not kept:
                    kept.append(await psycopg.AsyncConnection.connect(
                        host=str(self.socket_dir), port=self.settings.port, user=SUPERUSER,
                        password=self.password, dbname="postgres", connect_timeout=2, autocommit=True,
                    ))
                await kept[0].execute("SELECT 1")
            except psycopg.Error as exc:
                if kept:
                    await kept.pop().close()
                raise CheckFailed(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)) from None

        return check

    def _ensure_dirs(self) -> None:
        owner = pwd.getpwnam(self.run_as) if self.run_as else None
        if self.run_as:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise PostgresError(f"system user {self.run_as!r} (postgres.system_user) does not exist.",
                                    hint="Install the postgresql package, which creates it, or create it "
                                    "with `adduser --system postgres`.") from None
            check_reachable_by(self.home.root, self.run_as)
        for directory in (self.data_dir.parent, self.socket_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if owner is not None:
                os.chown(directory, owner.pw_uid, owner.pw_gid)
            os.chmod(directory, 0o700)

    def user_kwargs(self) -> dict[str, Any]:
        """subprocess arguments that run a program as the cluster's system user (when there is one)."""
        if not self.run_as:
            return {}
        entry = pwd.getpwnam(self.run_as)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _check_version(self, bin_dir: Path) -> None:
        made_by = (self.data_dir / "PG_VERSION").read_text().strip()
        have = program_version(bin_dir).split(".")[0]
        if made_by != have:
            raise PostgresError(
                f"the cluster in {self.data_dir} was made by PostgreSQL {made_by}, but the binaries in "
                f"{bin_dir} are version {have}.",
                hint=f"Set postgres.bin_dir to PostgreSQL {made_by}'s bin directory "
                f"(e.g. /usr/lib/postgresql/{made_by}/bin), or upgrade the cluster with pg_upgrade.",
            )


def program_version(bin_dir: Path, program: str = "postgres") -> str:
    """The version a PostgreSQL program in ``bin_dir`` says it is ("15.10"), or "?"."""
    result = subprocess.run([str(bin_dir / program), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+(?:\.\d+)?)", result.stdout)
    return match.group(1) if match else "?"
