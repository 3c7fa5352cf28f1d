"""`appliance backup FILE` and `appliance restore FILE`: the appliance's databases (pg_dump's custom format,
each a consistent snapshot), the secrets and the configuration file, in one tar file.

The databases are every one of the embedded cluster, or on an external PostgreSQL (postgres.url) the
appliance's own database and its hubs', nothing else of that server. A backup of either restores onto
either: that is how a lab moves from the embedded cluster to a server of its own.

The file holds the master key of the notebook storage: it is written with mode 0600 and should be kept
like the machine's own disks. A restore needs the appliance stopped (it replaces the databases while
nothing uses them) and runs the embedded PostgreSQL by itself meanwhile.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from appliance import __version__
from appliance.errors import ApplianceError
from appliance.home import Home
from appliance.hub.addresses import Addresses, database_name
from appliance.postgres import (
    DATABASE,
    SUPERUSER,
    EmbeddedCluster,
    PostgresSettings,
    client_bin_dir,
    connection_refused,
    database_url,
    find_bin_dir,
)
from appliance.supervisor.polling import poll

FORMAT = 1
# The cluster's own superuser password: a restored cluster keeps the one it was made with.
CLUSTER_SECRETS = {"postgres-password"}
RESTORED_CONFIG = "appliance.toml.from-backup"
LAST_BACKUP = "last-backup.json"  # in the home: the last backup this appliance made (the admin console shows it)
Say = Callable[[str], None]


@dataclass(frozen=True)
class Manifest:
    """manifest.json: what a backup holds."""

    databases: list[str]
    config: bool  # the configuration file is in it, as appliance.toml
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    appliance: str = __version__
    format: int = FORMAT
    # which of ``databases`` is the appliance's own (the others are its hubs'): restored as the one postgres.url
    # names, whatever that one is called
    appliance_database: str = DATABASE


class BackupError(ApplianceError):
    """A backup cannot be made or restored."""


class BackupSources(Protocol):
    """What a backup holds, of the appliance's configuration (appliance.config.Config)."""

    @property
    def home(self) -> Home: ...
    @property
    def postgres(self) -> PostgresSettings: ...
    @property
    def addresses(self) -> Addresses: ...
    @property
    def file(self) -> Path | None: ...  # the configuration file, if there is one


class Databases(Protocol):
    """The appliance's databases, as a backup reads them and a restore replaces them."""

    appliance_database: str

    def names(self) -> list[str]: ...
    def dump(self, database: str, file: Path) -> None: ...
    def replace(self, database: str, dump: Path) -> None: ...
    def reachable(self) -> contextlib.AbstractContextManager[None]: ...  # for the restore, with the appliance stopped


def backup(config: BackupSources, target: Path, say: Say) -> list[str]:
    """Write the backup to ``target``; the databases it holds."""
    databases = _databases(config)
    if not config.home.is_locked():
        raise BackupError("the appliance is not running, and a backup reads its databases.",
                          hint="Start it (`systemctl start appliance` or `appliance up --detach`) and try again.")
    if target.exists():
        raise BackupError(f"{target} exists already; a backup never overwrites a file.",
                          hint="Name a new file, or move the old one away.")
    names = databases.names()
    partial = target.with_name(f".{target.name}.partial")
    with tempfile.TemporaryDirectory() as work, tarfile.open(partial, "w") as archive:
        os.chmod(partial, 0o600)
        for number, database in enumerate(names, 1):
            dump = Path(work) / f"{database}.dump"
            began = time.monotonic()
            databases.dump(database, dump)
            say(f"[{number}/{len(names)}] database {database}: {dump.stat().st_size / 1e6:.1f} MB "
                f"in {time.monotonic() - began:.1f} s")
            archive.add(dump, f"databases/{database}.dump")
            dump.unlink()
        archive.add(config.home.secrets_dir, "secrets")
        if config.file is not None:
            archive.add(config.file, "appliance.toml")
        manifest = Manifest(databases=names, config=config.file is not None,
                            appliance_database=databases.appliance_database)
        _add_text(archive, "manifest.json", json.dumps(asdict(manifest), indent=2))
    partial.rename(target)
    _record(config.home.root / LAST_BACKUP, target, manifest)
    say(f"secrets and {'the configuration' if config.file else 'no configuration file'}: saved")
    return names


def _record(record: Path, target: Path, manifest: Manifest) -> None:
    entry = {"file": str(target.absolute()), "created": manifest.created, "bytes": target.stat().st_size,
             "databases": manifest.databases}
    record.write_text(json.dumps(entry, indent=2) + "\n")


def last_backup(home: Path) -> dict[str, Any] | None:
    """The last backup `appliance backup` made of the appliance in ``home`` (file, created, bytes,
    databases), or None if it never made one."""
    try:
        found = json.loads((home / LAST_BACKUP).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def restore(config: BackupSources, source: Path, say: Say) -> list[str]:
    """Put the backup in ``source`` in place of this appliance's databases and secrets."""
    databases = _databases(config)
    if config.home.is_locked():
        raise BackupError("the appliance is running; a restore replaces its databases.",
                          hint="Stop it first (`systemctl stop appliance`, or `appliance stop`), restore, then "
                               "start it again.")
    with _open(source) as archive, tempfile.TemporaryDirectory() as work:
        manifest = _manifest(archive, source)
        archive.extractall(work, members=_plain_members(archive, source))
        restored = []
        with databases.reachable():
            for number, database in enumerate(manifest.databases, 1):
                began = time.monotonic()
                into = databases.appliance_database if database == manifest.appliance_database else database
                databases.replace(into, Path(work) / "databases" / f"{database}.dump")
                restored.append(into)
                said = database if into == database else f"{database} into {into}"
                say(f"[{number}/{len(manifest.databases)}] database {said}: restored in "
                    f"{time.monotonic() - began:.1f} s")
        _restore_secrets(Path(work) / "secrets", config.home.secrets_dir)
        say("secrets: restored (this machine's PostgreSQL password kept)")
        if manifest.config:
            kept = config.home.root / RESTORED_CONFIG
            shutil.copy(Path(work) / "appliance.toml", kept)
            say(f"the backup's configuration is in {kept}: compare it with "
                f"{config.file or 'your configuration'} and copy what you want to keep")
    return restored


def _databases(config: BackupSources) -> Databases:
    if config.postgres.url:
        return ExternalDatabases(database_url(config.home, config.postgres),
                                 [database_name(hub_id) for hub_id in config.addresses.hub_ids])
    return EmbeddedDatabases(EmbeddedCluster(config.home, config.postgres))


class EmbeddedDatabases:
    """Every database of the embedded cluster, reached as its superuser; replaced whole by a restore."""

    appliance_database = DATABASE

    def __init__(self, cluster: EmbeddedCluster):
        self.cluster = cluster

    def names(self) -> list[str]:
        with self._connect("postgres") as connection:
            return [str(name) for name, in connection.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname")]

    def dump(self, database: str, file: Path) -> None:
        self._pg("pg_dump", "--format=custom", f"--file={file}", f"--dbname={database}")

    def replace(self, database: str, dump: Path) -> None:
        with self._connect("postgres") as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{database}"')
        self._pg("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={database}", str(dump))

    @contextlib.contextmanager
    def reachable(self, timeout_s: float = 60) -> Iterator[None]:
        """The embedded PostgreSQL, alone, for as long as the restore needs it."""
        cluster = self.cluster
        cluster.ensure_initialized()
        spec = cluster.child_spec()
        process = subprocess.Popen(list(spec.argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, **cluster.user_kwargs())

        def refused() -> BackupError | None:
            """Why the cluster cannot be reached yet (None once it can)."""
            try:
                self._connect("postgres").close()
            except BackupError as error:
                return error
            return None

        try:
            if error := poll(refused, lambda error: error is None or process.poll() is not None, timeout_s):
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise BackupError(f"the embedded PostgreSQL did not start for the restore:\n{output[-2000:]}") \
                    from error
            yield
        finally:
            process.send_signal(spec.stop_signal)
            process.wait(60)

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        cluster = self.cluster
        try:
            return psycopg.connect(host=str(cluster.socket_dir), port=cluster.settings.port, user=SUPERUSER,
                                   password=cluster.password, dbname=database, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as error:
            raise BackupError(f"cannot reach the appliance's PostgreSQL: {str(error).strip()}") from None

    def _pg(self, program: str, *args: str) -> None:
        """Run pg_dump or pg_restore of the cluster's own version against it."""
        cluster = self.cluster
        _run([str(find_bin_dir(cluster.settings) / program), f"--host={cluster.socket_dir}",
              f"--port={cluster.settings.port}", f"--username={SUPERUSER}", *args], cluster.password)


class ExternalDatabases:
    """On an external server, the appliance's database (postgres.url's) and its hubs' that exist, reached as
    the appliance's role, which needs no superuser. A restore empties each in place (the role owns them; it
    may not be allowed to create databases) and creates only what is missing."""

    def __init__(self, url: str, hub_databases: list[str]):
        self.url = make_url(url)
        self.appliance_database = str(self.url.database)
        self.hub_databases = hub_databases
        self._bin_dir: Path | None = None

    def names(self) -> list[str]:
        with self._connect(self.appliance_database) as connection:
            existing = {str(name) for name, in connection.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (self.hub_databases,))}
        return [self.appliance_database, *sorted(existing)]

    def dump(self, database: str, file: Path) -> None:
        self._pg("pg_dump", "--format=custom", f"--file={file}", f"--dbname={self._conninfo(database)}")

    def replace(self, database: str, dump: Path) -> None:
        self._create_if_missing(database)
        with self._connect(database) as connection:
            # what the role made here before, gone: --clean below drops only what the dump holds
            for schema, in connection.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspowner = current_user::regrole "
                    "AND nspname <> 'public' AND nspname NOT LIKE 'pg\\_%'").fetchall():
                connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(str(schema))))
        self._pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                 "--exit-on-error", f"--dbname={self._conninfo(database)}", str(dump))

    def reachable(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # someone else runs it

    def _create_if_missing(self, database: str) -> None:
        maintenance = self.appliance_database if database != self.appliance_database else "postgres"
        with self._connect(maintenance) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                return
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.InsufficientPrivilege:
                raise BackupError(f"database {database} does not exist on the external PostgreSQL, and role "
                                  f"{self.url.username} cannot create it.",
                                  hint=f'Have its administrator run CREATE DATABASE "{database}" OWNER '
                                       f'"{self.url.username}"; then restore again.') from None

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        url = self.url.set(database=database)
        try:
            return psycopg.connect(_libpq(url), password=url.password, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise BackupError(str(connection_refused(url.render_as_string(hide_password=False), error))) from None

    def _conninfo(self, database: str) -> str:
        """The database's libpq URL without the password (given in the environment: a command line is public)."""
        return _libpq(self.url.set(database=database))

    def _pg(self, program: str, *args: str) -> None:
        if self._bin_dir is None:
            with self._connect(self.appliance_database) as connection:
                self._bin_dir = client_bin_dir(connection.info.server_version // 10000)
        _run([str(self._bin_dir / program), *args], self.url.password or "")


def _libpq(url: Any) -> str:
    return str(url.set(drivername="postgresql", password=None).render_as_string(hide_password=False))


def _run(argv: list[str], password: str) -> None:
    result = subprocess.run(argv, env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        program = Path(argv[0]).name
        said = re.sub(r"postgresql://\S+", "…", result.stderr.strip())[-2000:]
        raise BackupError(f"{program} failed (exit {result.returncode}): {said}")


def _open(source: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(source)  # noqa: SIM115 - the caller closes it
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{source} is not a backup this command can read ({error}).") from None


def _plain_members(archive: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """Files and folders inside the archive, nothing else (tarfile's "data" filter is Python 3.11.4+)."""
    members = archive.getmembers()
    for member in members:
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise BackupError(f"{source} holds {member.name!r}, which no appliance backup has; not restoring it.")
    return members


def _manifest(archive: tarfile.TarFile, source: Path) -> Manifest:
    try:
        member = archive.extractfile("manifest.json")
        found = json.loads(member.read()) if member else {}
    except (KeyError, ValueError):
        raise BackupError(f"{source} has no readable manifest.json: it is not an appliance backup.") from None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise BackupError(f"{source} is not a backup in format {FORMAT}, the one this appliance ({__version__}) "
                          "reads.")
    try:
        return Manifest(**found)
    except TypeError:
        raise BackupError(f"{source} has a manifest.json this appliance does not understand.") from None


def _restore_secrets(backed_up: Path, secrets_dir: Path) -> None:
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in secrets_dir.iterdir():  # e.g. this install's first admin password, not the backup's accounts
        if stale.name not in CLUSTER_SECRETS and stale.is_file():
            stale.unlink()
    for secret in backed_up.iterdir():
        if secret.name not in CLUSTER_SECRETS and secret.is_file():
            target = secrets_dir / secret.name
            shutil.copy(secret, target)
            os.chmod(target, 0o600)


def _add_text(archive: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    archive.addfile(info, io.BytesIO(data))
