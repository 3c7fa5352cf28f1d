"""The system as an administrator sees it on the console's System page: what `appliance status` shows
(components, pids, restarts, last error; the hubs; whether members are isolated), versions, database sizes
and free disk, the last backup, the effective configuration, and recent errors from the components' logs.

Nothing secret leaves here. The configuration's secret knobs are masked as `appliance config show`
masks them, and every text of the report (log lines, last errors, addresses, values) then passes
through a ``Redactor`` that knows every secret the home holds (its secrets folder, the hubs' cookie
secrets, each hub's discovery credential) and the secret knobs' values, and hides URL passwords and
secret query parameters (logscrub's list). Members' own logs are not read: a member writes what they like
there, and it is not the appliance's error.
"""

from __future__ import annotations

import asyncio
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from appliance import __version__
from appliance.backup import last_backup
from appliance.discovery import HubRegistry, hub_credentials
from appliance.home import Home
from appliance.hub.addresses import Addresses
from appliance.logscrub import scrub
from appliance.proxy import ProxySettings
from appliance.supervisor.control import SupervisorClient
from appliance.supervisor.logs import ERROR_PATTERN

HIDDEN = "[secret]"
MIN_SECRET_CHARS = 6  # shorter "secrets" (an empty line, a port) would blank out ordinary text
PACKAGES = ("jupyterhub", "jupyterlab", "jupyter_server", "oauthenticator", "nbconvert", "starlette", "uvicorn",
            "sqlalchemy", "psycopg")
LOG_TAIL_BYTES = 256 * 1024  # of each log, read for errors
ERRORS_PER_LOG = 10
MAX_LINE_CHARS = 600
ERROR_LINE = re.compile(ERROR_PATTERN)
URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@")


class Redactor:
    """Hides each of ``secrets`` (and URL passwords, secret query parameters) in a text."""

    def __init__(self, secrets: Iterable[str]):
        found = {secret for secret in secrets if len(secret) >= MIN_SECRET_CHARS}
        self._pattern = re.compile("|".join(re.escape(s) for s in sorted(found, key=len, reverse=True))) \
            if found else None

    def text(self, value: str) -> str:
        value = URL_PASSWORD.sub(rf"\1{HIDDEN}@", scrub(value))
        return self._pattern.sub(HIDDEN, value) if self._pattern else value

    def deep(self, value: Any) -> Any:
        """``value`` (JSON: dicts, lists, strings, numbers) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(item) for item in value]
        return value


@dataclass(frozen=True)
class Installation:
    """What the System page reads of this installation besides the database and the supervisor, handed over
    by the application, which reads the whole configuration."""

    home: Home
    addresses: Addresses
    proxy: ProxySettings
    external_postgres: bool
    config_file: Path | None
    knobs: list[dict[str, Any]]  # every knob: section, key, secret, value (a secret's masked), source
    secret_values: list[str]  # the secret knobs' values


def home_secrets(installation: Installation) -> list[str]:
    """Every secret the configuration and the home hold: each line of each file in the secrets folder, the
    hubs' cookie secrets, the hubs' discovery credentials (derived), the secret knobs' values."""
    home = installation.home
    files = [*home.secrets_dir.glob("*"), *(home.root / "hubs").glob("*/*secret*")]
    found = [line.strip() for path in files if path.is_file() for line in _read(path).splitlines()]
    credentials = hub_credentials(home)
    found += [credentials.for_hub(hub_id) for hub_id in installation.addresses.hub_ids]
    found += installation.secret_values
    return [secret for secret in found if secret]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def recent_errors(logs_dir: Path, per_log: int = ERRORS_PER_LOG) -> list[dict[str, Any]]:
    """The last ``per_log`` error lines of each component's log (the supervisor's included; members'
    logs not), newest log first."""
    found = []
    for path in sorted(logs_dir.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
        lines = [line[:MAX_LINE_CHARS] for line in _tail(path) if ERROR_LINE.search(line)]
        if lines:
            found.append({"component": path.stem, "modified": path.stat().st_mtime, "lines": lines[-per_log:]})
    return found


def _tail(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        data = handle.read()
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if size > LOG_TAIL_BYTES else lines  # the first may be cut


def disk_usage(home: Home, external_postgres: bool) -> list[dict[str, Any]]:
    """Free and total bytes of the file systems the appliance writes to: its home's, its logs' and, where the
    database is the embedded cluster, the cluster's (those that exist)."""
    paths = {"home": home.root, "logs": home.logs_dir}
    if not external_postgres:
        paths["database"] = home.root / "postgres"
    found = []
    for name, path in paths.items():
        if path.exists():
            usage = shutil.disk_usage(path)
            found.append({"name": name, "path": str(path), "free_bytes": usage.free, "total_bytes": usage.total})
    return found


def database_sizes(engine: Engine) -> tuple[str, dict[str, int]]:
    """The database server's version, and the size in bytes of the appliance's database and its hubs'."""
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar()
        rows = connection.execute(text(
            "SELECT datname, pg_database_size(datname) FROM pg_database "
            "WHERE datname = current_database() OR datname LIKE 'hub\\_%' ORDER BY datname")).all()
    return str(version), {name: size for name, size in rows}


def _program_version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (result.stdout.strip() or result.stderr.strip() or "unknown").splitlines()[0]


class SystemConsole:
    """The System page's report."""

    def __init__(self, installation: Installation, engine: Engine, supervisor: SupervisorClient,
                 registry: HubRegistry):
        self.installation = installation
        self.engine = engine
        self.supervisor = supervisor
        self.registry = registry
        self._programs: dict[str, str] | None = None  # versions of programs outside Python, asked once

    async def report(self) -> dict[str, Any]:
        redactor = Redactor(await asyncio.to_thread(home_secrets, self.installation))
        status, hubs, database, programs = await asyncio.gather(
            self.supervisor.status(), self._hubs(), asyncio.to_thread(database_sizes, self.engine),
            self._program_versions())
        report = {
            "supervisor": status["supervisor"] if status else None,
            "components": status["components"] if status else [],
            "hubs": hubs,
            "members": self.installation.addresses.members_report(),
            "versions": {"appliance": __version__, "python": platform.python_version(),
                         "postgresql": database[0], **programs, **_package_versions()},
            "databases": [{"name": name, "bytes": size} for name, size in database[1].items()],
            "disk": disk_usage(self.installation.home, self.installation.external_postgres),
            "last_backup": last_backup(self.installation.home.root),
            "configuration": {"file": str(self.installation.config_file or ""), "knobs": self.installation.knobs},
            "errors": await asyncio.to_thread(recent_errors, self.installation.home.logs_dir),
        }
        return dict(redactor.deep(report))

    async def _hubs(self) -> list[dict[str, Any]] | str:
        try:
            return [hub.to_json() for hub in await self.registry.hubs()]
        except Exception as error:  # shown as the CLI's status shows it: why they cannot be read
            return f"unknown ({type(error).__name__}: {error})"

    async def _program_versions(self) -> dict[str, str]:
        if self._programs is None:
            from appliance.proxy import find_proxy_command

            try:
                proxy = [str(find_proxy_command(self.installation.proxy)), "--version"]
            except Exception:
                proxy = ["configurable-http-proxy", "--version"]
            node, chp = await asyncio.gather(asyncio.to_thread(_program_version, ["node", "--version"]),
                                             asyncio.to_thread(_program_version, proxy))
            self._programs = {"node": node, "configurable-http-proxy": chp}
        return self._programs


def _package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
