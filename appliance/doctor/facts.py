"""What `appliance doctor` reads off this machine and the running appliance, handed to the checks (checks.py).

It reads and never changes anything. What it cannot read (the database while the appliance is stopped, the
supervisor of a stopped appliance) becomes a finding of its own, and the checks that need it are left out.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Protocol

import psutil

from appliance import __version__
from appliance.admin.system import database_sizes, disk_usage
from appliance.backup import last_backup
from appliance.discovery import DiscoverySettings
from appliance.doctor import checks
from appliance.doctor.checks import FAIL, Finding, Server
from appliance.home import Home
from appliance.hub.addresses import Addresses
from appliance.hub.settings import HubSettings
from appliance.nodes import NodesSettings
from appliance.postgres import PostgresSettings
from appliance.proxy import ProxySettings
from appliance.supervisor.control import SupervisorClient

SERVER_MODULE = "appliance.application.singleuser"  # what a member's server runs, under the local and systemd spawners
DISTRIBUTION = "appliance"


class DoctorSources(Protocol):
    """The sections of the configuration the doctor reads."""

    @property
    def home(self) -> Home: ...
    @property
    def addresses(self) -> Addresses: ...
    @property
    def proxy(self) -> ProxySettings: ...
    @property
    def postgres(self) -> PostgresSettings: ...
    @property
    def discovery(self) -> DiscoverySettings: ...
    @property
    def hubs(self) -> HubSettings: ...
    @property
    def nodes(self) -> NodesSettings: ...


async def examine(config: DoctorSources, now: datetime | None = None) -> list[Finding]:
    now = now or datetime.now(timezone.utc)
    addresses = config.addresses
    findings = checks.names(_hosts(addresses), _resolve, _local_addresses())
    findings += _certificate(config.proxy, addresses, now)
    status = await SupervisorClient(config.home.control_socket).status()
    if status is None:
        findings.append(Finding("appliance", FAIL, "The appliance is not running on this machine.",
                                "Start it: `systemctl start appliance` (installed) or `appliance up --detach`."))
    portal_machine = not config.nodes.is_hub_node
    facts = await asyncio.to_thread(_database_facts, config) if portal_machine else None
    if isinstance(facts, Finding):
        if status is not None or config.postgres.url:  # else the embedded database is down with the rest
            findings.append(facts)
        facts = None
    findings += checks.disk(_usage(config), facts["growth"] if facts else None)
    if facts is not None:
        findings += checks.database(facts["sizes"], facts["growth"])
        findings += checks.clock(facts["skew_s"], "the database server")
    if portal_machine:
        findings += checks.backup(last_backup(config.home.root), now)
    problems, checked = _version_problems(facts["server_version"] if facts else None)
    findings += checks.versions(problems, checked)
    if status is not None:
        findings += checks.restarts({c["name"]: c.get("crashes_24h", 0) for c in status["components"]})
    if facts is not None:
        findings += await _hub_findings(config, local_servers=config.hubs.spawner in ("auto", "local", "systemd"))
    return findings


def _hosts(addresses: Addresses) -> list[str]:
    """The names browsers use: the portal's, the hubs', and one member's (any name under the wildcard)."""
    hosts = [host.removeprefix("*.") for host in addresses.certificate_hosts]
    if addresses.members_isolated:
        hosts.append(f"doctor-probe.{addresses.hub_host}")
    return list(dict.fromkeys(host for host in hosts if host))


def _resolve(host: str) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def _local_addresses() -> set[str]:
    return {address.address.split("%")[0] for entries in psutil.net_if_addrs().values() for address in entries
            if address.family in (socket.AF_INET, socket.AF_INET6)}


def _certificate(proxy: ProxySettings, addresses: Addresses, now: datetime) -> list[Finding]:
    if not proxy.tls_cert:
        return checks.certificate("", None, [], now)
    from cryptography import x509  # only when there is a certificate

    from appliance.proxy.tls import certificate_names, covered

    try:
        with open(proxy.tls_cert, "rb") as handle:
            not_after = x509.load_pem_x509_certificate(handle.read()).not_valid_after_utc
        names = certificate_names(proxy.tls_cert)
    except (OSError, ValueError):
        return checks.certificate(proxy.tls_cert, None, [], now)
    missing = [host for host in addresses.certificate_hosts if not covered(host.lower(), names)]
    return checks.certificate(proxy.tls_cert, not_after, missing, now)


def _usage(config: DoctorSources) -> dict[str, tuple[str, int, int]]:
    return {entry["name"]: (entry["path"], entry["free_bytes"], entry["total_bytes"])
            for entry in disk_usage(config.home, external_postgres=bool(config.postgres.url))}


def _database_facts(config: DoctorSources) -> dict[str, Any] | Finding:
    """The databases' sizes and growth, the server's version, and how far this machine's clock is from the
    server's."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from appliance.db import make_engine
    from appliance.doctor.growth import growth_per_day
    from appliance.postgres import database_url

    engine = make_engine(database_url(config.home, config.postgres), pool_size=1)
    try:
        with engine.connect() as connection:
            before = time.time()
            server_now = connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
            after = time.time()
            version = connection.execute(text("SELECT current_setting('server_version_num')::int")).scalar_one()
        _, sizes = database_sizes(engine)
        growth = growth_per_day(engine, datetime.now(timezone.utc).date(), sum(sizes.values()))
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return Finding("database", FAIL, f"Cannot reach the appliance's database ({reason}).",
                       "Is the appliance running? `appliance status` says; start it with `appliance up --detach`.")
    finally:
        engine.dispose()
    return {"sizes": sizes, "growth": growth, "server_version": version,
            "skew_s": (before + after) / 2 - float(server_now)}


def _version_problems(server_version: int | None) -> tuple[dict[str, str], int]:
    """Each part this release's requirements do not admit, and how many parts were checked: its Python
    dependencies (their ranges in the package's metadata) and the PostgreSQL server."""
    from packaging.requirements import Requirement

    from appliance.postgres.external import version_problem

    problems: dict[str, str] = {}
    requirements = [Requirement(line) for line in metadata.requires(DISTRIBUTION) or []]
    requirements = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    for requirement in requirements:
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems[requirement.name] = f"not installed (this release needs {requirement.specifier or 'it'})."
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems[requirement.name] = (f"{installed} is installed; this release was tested with "
                                          f"{requirement.specifier}.")
    if server_version is not None and (problem := version_problem(server_version)):
        problems["postgresql"] = problem
    return problems, len(requirements) + (server_version is not None)


async def _hub_findings(config: DoctorSources, local_servers: bool) -> list[Finding]:
    """The live hubs' versions against this machine's; with ``local_servers`` (the spawner runs members' servers
    on this machine), those servers whose hub is gone or no longer theirs."""
    from appliance.discovery import Discovery
    from appliance.postgres import database_url

    running = await asyncio.to_thread(find_local_servers) if local_servers else []
    discovery = Discovery(database_url(config.home, config.postgres), config.discovery, config.home, pool_size=1)
    try:
        await discovery.open(reap=False)
        hubs = await discovery.registry.hubs()
        assignments = {name: await discovery.registry.assignment(name) for name in {s.member for s in running}}
    finally:
        await discovery.close()
    live = {hub.id: hub.version for hub in hubs if hub.state not in ("dead", "unregistered")}
    findings = checks.upgrade(live, __version__, config.addresses.hub_ids)
    if local_servers:
        findings += checks.servers(running, {hub.id: hub.state for hub in hubs}, assignments)
    return findings


def find_local_servers() -> list[Server]:
    """Members' servers running on this machine (not inside containers it runs)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if SERVER_MODULE not in " ".join(process.info["cmdline"] or []) or os.readlink(
                    f"/proc/{process.pid}/root") != "/":
                continue
            environ = process.environ()
            prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX", "").split("/")  # /hubs/<id>/user/<name>/
            if process.status() != psutil.STATUS_ZOMBIE and len(prefix) > 2 and environ.get("JUPYTERHUB_USER"):
                found.append(Server(environ["JUPYTERHUB_USER"], prefix[2], process.pid))
        except (psutil.Error, OSError):  # ended while read
            continue
    return found
