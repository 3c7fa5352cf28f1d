"""The checks of `appliance doctor`, each a function of what was read off the machine (facts.py reads it), so
that each can be tried on made-up facts. A check returns its findings: one per thing it looked at, ``ok`` or
not, a problem naming what to do."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.hub.addresses import is_address

OK, WARN, FAIL = "ok", "warn", "fail"
CERTIFICATE_WARN_DAYS = 21  # certbot renews at 30 days left: a certificate this close has not been renewed
BACKUP_WARN_DAYS = 7
DISK_WARN_FREE = 0.10  # of the file system, or DISK_WARN_BYTES, whichever is more
DISK_WARN_BYTES = 2 * 1024**3
DISK_FAIL_FREE = 0.02
GROWTH_WARN_DAYS = 60  # at the last week's growth, the disk fills within this many days
CLOCK_WARN_S = 2.0  # heartbeats, sign-in codes and cookies carry times that another machine checks
CRASHES_WARN = 3  # a component that crashed this often in 24 hours


@dataclass(frozen=True)
class Finding:
    check: str  # names, certificate, disk, database, backup, clock, versions, upgrade, servers, restarts
    status: str  # ok, warn or fail
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "message": self.message, "fix": self.fix}


def names(hosts: Iterable[str], resolve: Callable[[str], list[str]], local: set[str]) -> list[Finding]:
    """Each host name browsers use must resolve to an address of this machine. ``resolve`` gives a name's
    addresses ([] if none); ``local`` is this machine's addresses."""
    found = []
    for host in hosts:
        if is_address(host) or host.endswith(".localhost") or host == "localhost":
            continue  # an address is what it is; *.localhost is loopback in every browser (RFC 6761)
        addresses = resolve(host)
        here = [address for address in addresses if address in local or ipaddress.ip_address(address).is_loopback]
        if here:
            found.append(Finding("names", OK, f"{host} resolves to this machine ({', '.join(here)})."))
        elif not addresses:
            found.append(Finding("names", FAIL, f"{host} does not resolve: browsers cannot reach the appliance by it.",
                                 f"Add a DNS record for {host} pointing at this machine ({_some(local)})."))
        else:
            found.append(Finding("names", FAIL, f"{host} resolves to {', '.join(addresses)}, not to this machine.",
                                 f"Point its DNS record at this machine ({_some(local)}), or fix the name in the "
                                 "configuration (portal.public_url, hubs.public_url)."))
    return found


def certificate(cert_file: str, not_after: datetime | None, names_missing: list[str], now: datetime) -> list[Finding]:
    """The front proxy's certificate: days left and whether it names every host. ``not_after`` None means the
    file could not be read."""
    if not cert_file:
        return [Finding("certificate", OK, "No certificate configured: the front proxy speaks plain HTTP.")]
    if not_after is None:
        return [Finding("certificate", FAIL, f"{cert_file} cannot be read as a PEM certificate.",
                        "Point proxy.tls_cert at the certificate chain (e.g. certbot's fullchain.pem).")]
    days = (not_after - now) / timedelta(days=1)
    found = []
    if days < 0:
        found.append(Finding("certificate", FAIL, f"{cert_file} expired {-days:.0f} days ago ({not_after:%Y-%m-%d}): "
                             "browsers refuse the appliance.", RENEW))
    elif days < CERTIFICATE_WARN_DAYS:
        found.append(Finding("certificate", WARN, f"{cert_file} expires in {days:.0f} days ({not_after:%Y-%m-%d}); "
                             "it should have been renewed by now.", RENEW))
    else:
        found.append(Finding("certificate", OK, f"{cert_file} is valid for {days:.0f} more days."))
    if names_missing:
        found.append(Finding("certificate", FAIL, f"{cert_file} does not name {', '.join(names_missing)}.",
                             "Get one that names every host (the members' wildcard needs certbot's DNS challenge: "
                             "install.sh --domain … --certbot PLUGIN)."))
    return found


RENEW = ("Run `certbot renew` and read its output (`journalctl -u certbot`), then `appliance restart proxy`; "
         "with install.sh --certbot, the renewal timer does both.")


def disk(usage: Mapping[str, tuple[str, int, int]], growth_per_day: int | None) -> list[Finding]:
    """``usage`` maps a name (home, logs, database) to (path, free bytes, total bytes); ``growth_per_day`` is
    how fast the databases grew over the last week, in bytes, if known."""
    found = []
    for name, (path, free, total) in usage.items():
        share = free / total if total else 0.0
        what = f"The {name} ({path}) has {_size(free)} free of {_size(total)} ({share:.0%})"
        if share < DISK_FAIL_FREE:
            found.append(Finding("disk", FAIL, f"{what}: saves fail once it is full.", FREE_SPACE))
        elif share < DISK_WARN_FREE or free < DISK_WARN_BYTES:
            found.append(Finding("disk", WARN, f"{what}: little room to grow.", FREE_SPACE))
        else:
            found.append(Finding("disk", OK, f"{what}."))
        if name == "database" and growth_per_day and growth_per_day > 0 and free / growth_per_day < GROWTH_WARN_DAYS:
            found.append(Finding("disk", WARN, f"The databases grew {_size(growth_per_day)} a day this week: the "
                                 f"{name}'s file system is full in {free / growth_per_day:.0f} days.", FREE_SPACE))
    return found


FREE_SPACE = ("Give the file system more room, or make some: the admin console's People page shows each member's "
              "storage, and old logs (*.log.N in the logs folder) can go.")


def database(sizes: Mapping[str, int], growth_per_day: int | None) -> list[Finding]:
    total = sum(sizes.values())
    grown = f", growing {_size(growth_per_day)} a day this week" if growth_per_day is not None else ""
    return [Finding("database", OK, f"{len(sizes)} databases hold {_size(total)}{grown}.")]


def backup(record: Mapping[str, Any] | None, now: datetime) -> list[Finding]:
    """The last backup `appliance backup` made (its record: file, created)."""
    fix = ("Run `appliance backup /some/other/disk/appliance-$(date +%F).tar`, and from cron or a systemd timer "
           "every day; keep the files off this machine.")
    if record is None:
        return [Finding("backup", WARN, "No backup has been made of this appliance.", fix)]
    created = datetime.fromisoformat(record["created"])
    days = (now - created) / timedelta(days=1)
    if days > BACKUP_WARN_DAYS:
        return [Finding("backup", WARN, f"The last backup ({record['file']}) is {days:.0f} days old.", fix)]
    return [Finding("backup", OK, f"The last backup ({record['file']}) is {_age(days)} old.")]


def clock(skew_s: float | None, against: str) -> list[Finding]:
    if skew_s is None:
        return []
    if abs(skew_s) > CLOCK_WARN_S:
        return [Finding("clock", WARN, f"This machine's clock is {abs(skew_s):.1f} s "
                        f"{'ahead of' if skew_s > 0 else 'behind'} {against}'s.",
                        "Keep every machine's clock synchronised: install systemd-timesyncd or chrony.")]
    return [Finding("clock", OK, f"This machine's clock agrees with {against}'s (within {abs(skew_s):.2f} s).")]


def versions(problems: Mapping[str, str], checked: int) -> list[Finding]:
    """``problems`` maps each part whose version this release was not tested with to what is wrong."""
    found = [Finding("versions", WARN, f"{part}: {problem}",
                     "Re-run the installer of this release (it installs what it was tested with), or install "
                     "the release that was tested with what you have.") for part, problem in problems.items()]
    return found or [Finding("versions", OK, f"All {checked} parts are versions this release was tested with.")]


def upgrade(hub_versions: Mapping[str, str], installed: str, local_hubs: Iterable[str]) -> list[Finding]:
    """``hub_versions`` maps each live hub to the appliance version it registered with: one that is not the
    ``installed`` version is an upgrade left half done (a failed one, or a joined node nobody upgraded)."""
    local = set(local_hubs)
    found = [Finding("upgrade", WARN, f"hub {hub_id} runs appliance {version or 'of an earlier release'}; "
                     f"{installed} is installed here.",
                     "Finish the upgrade: `appliance upgrade` restarts this machine's hubs on it one at a time."
                     if hub_id in local else f"Run the installer of {installed} on the node that serves hub "
                     f"{hub_id} (`appliance nodes list` names it).")
             for hub_id, version in hub_versions.items() if version != installed]
    return found or [Finding("upgrade", OK, f"Every hub ({len(hub_versions)}) runs appliance {installed}.")]


@dataclass(frozen=True)
class Server:
    """A member's server running on this machine, and the hub that started it."""

    member: str
    hub_id: str
    pid: int


def servers(running: Iterable[Server], hub_states: Mapping[str, str], assignments: Mapping[str, str | None]) -> \
        list[Finding]:
    """Members' servers whose hub is gone (dead or removed) or no longer the member's: nobody routes to them, they
    hold memory, and what they hold unsaved is the member's last chance to save."""
    found = []
    running = list(running)
    for server in running:
        state = hub_states.get(server.hub_id, "removed")
        assigned = assignments.get(server.member)
        if state in ("dead", "removed", "unregistered"):
            why = f"its hub {server.hub_id} is {state}"
        elif assigned is not None and assigned != server.hub_id:
            why = f"the member is on hub {assigned} now, not on its hub {server.hub_id}"
        else:
            continue
        found.append(Finding("servers", WARN, f"{server.member}'s server (pid {server.pid}) has no hub: {why}.",
                             f"Ask {server.member} to save from it if they can, then end it: kill {server.pid}."))
    return found or [Finding("servers", OK, f"Every member's server here ({len(running)}) has its hub.")]


def restarts(crashes: Mapping[str, int]) -> list[Finding]:
    """``crashes`` maps each component to its crashes in the last 24 hours."""
    found = [Finding("restarts", WARN, f"{name} crashed {count} times in the last 24 hours.",
                     f"Read why: `appliance logs {name} -n 200`.")
             for name, count in crashes.items() if count >= CRASHES_WARN]
    return found or [Finding("restarts", OK, "No component crashed often in the last 24 hours.")]


def _some(addresses: set[str]) -> str:
    public = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback and ":" not in a)
    return ", ".join(public[:3]) or "its address"


def _size(count: float) -> str:
    if count < 1024:
        return f"{count:.0f} bytes"
    for unit in ("KB", "MB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} GB"


def _age(days: float) -> str:
    return f"{days * 24:.0f} hours" if days < 2 else f"{days:.0f} days"
