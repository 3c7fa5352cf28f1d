"""`appliance doctor` through the real command: on a home with the troubles of a lab's second month (a
certificate close to its end, a week-old backup, a small file system, host names that resolve nowhere), and on
a running appliance, where it reads the databases, the supervisor and the clocks, and sees a component that
keeps crashing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from appliance import __version__
from appliance.db.pool import libpq_url
from appliance.doctor.checks import CRASHES_WARN
from tests.harness import Appliance, reserve_ports
from tests.integration.conftest import running
from tests.tls import make_certificates

DOMAIN = "lab.doctor-check.invalid"  # .invalid never resolves (RFC 2606)
SMALL_FS_MB = 64


def doctor(appliance: Appliance) -> tuple[int, dict[str, list[dict[str, str]]]]:
    """Its exit code, and its findings by check."""
    result = appliance.cli("doctor", "--json", timeout=120)
    assert result.stdout.startswith("["), result.stderr
    by_check: dict[str, list[dict[str, str]]] = {}
    for finding in json.loads(result.stdout):
        by_check.setdefault(finding["check"], []).append(finding)
    return result.returncode, by_check


def only(findings: dict[str, list[dict[str, str]]], check: str) -> dict[str, str]:
    [finding] = findings[check]
    return finding


@pytest.fixture
def small_home() -> Iterator[Path]:
    """A home on a file system of SMALL_FS_MB."""
    mount_point = Path(tempfile.mkdtemp(prefix="appliance-doctor-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS_MB}m,mode=0755", "tmpfs", str(mount_point)],
                   check=True)
    try:
        yield mount_point / "home"
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
        mount_point.rmdir()


def test_the_troubles_of_a_second_month_are_each_flagged_with_what_to_do(small_home: Path) -> None:
    small_home.mkdir()
    hosts = [DOMAIN, f"hub.{DOMAIN}", f"*.hub.{DOMAIN}"]
    _, cert, key = make_certificates(small_home.parent, hosts, days=10)
    (small_home / "last-backup.json").write_text(json.dumps({
        "file": "/backups/lab.tar", "created": (datetime.now(timezone.utc) - timedelta(days=8)).isoformat()}))
    appliance = Appliance(small_home, reserve_ports(4))
    appliance.env.update(APPLIANCE_PORTAL_PUBLIC_URL=f"https://{DOMAIN}",
                         APPLIANCE_HUBS_PUBLIC_URL=f"https://hub.{DOMAIN}",
                         APPLIANCE_PROXY_TLS_CERT=str(cert), APPLIANCE_PROXY_TLS_KEY=str(key))

    exit_code, findings = doctor(appliance)

    assert exit_code == 1
    certificate = only(findings, "certificate")
    assert certificate["status"] == "warn" and "expires in 10 days" in certificate["message"], certificate
    assert "certbot renew" in certificate["fix"]
    backup = only(findings, "backup")
    assert backup["status"] == "warn" and "8 days old" in backup["message"] and "appliance backup" in backup["fix"]
    disk = only(findings, "disk")  # the home's file system (the logs are not there yet)
    assert disk["status"] == "warn" and f"free of {SMALL_FS_MB}.0 MB" in disk["message"], disk
    names = {finding["message"].split()[0]: finding for finding in findings["names"]}
    assert set(names) == {DOMAIN, f"hub.{DOMAIN}", f"doctor-probe.hub.{DOMAIN}"}  # the members' wildcard by one name
    assert all(n["status"] == "fail" and "does not resolve" in n["message"] and "DNS record" in n["fix"]
               for n in names.values()), names
    assert only(findings, "appliance")["status"] == "fail"  # not running: said once, not as a database error too
    assert "database" not in findings


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


def test_on_a_running_appliance_it_reads_databases_clocks_and_crashes(lab: Appliance, tmp_path: Path) -> None:
    backup = lab.cli("backup", str(tmp_path / "lab.tar"), timeout=300)
    assert backup.returncode == 0, backup.stderr
    record_history(lab, days_ago=2, smaller_by=2 * 10**6)  # as the portal would have two days ago

    exit_code, findings = doctor(lab)

    assert "appliance" not in findings  # it runs
    assert only(findings, "backup")["status"] == "ok"
    database = only(findings, "database")
    assert database["status"] == "ok" and "databases hold" in database["message"]
    grown = re.search(r"growing ([\d.]+) (KB|MB) a day this week", database["message"])
    assert grown, database
    assert float(grown[1]) * {"KB": 1024, "MB": 1024**2}[grown[2]] >= 10**6 * 0.99  # and what came since
    assert only(findings, "clock")["status"] == "ok"
    assert only(findings, "versions")["status"] == "ok", findings["versions"]
    assert only(findings, "servers") == {"check": "servers", "status": "ok", "fix": "",
                                         "message": "Every member's server here (0) has its hub."}
    assert only(findings, "restarts")["status"] == "ok"
    upgraded = only(findings, "upgrade")
    assert upgraded["status"] == "ok" and upgraded["message"].endswith(f"runs appliance {__version__}."), upgraded
    assert exit_code == 0, findings  # trial names need no DNS, plain HTTP no certificate, the disk has room

    with psycopg.connect(libpq_url(lab.database_url()), autocommit=True) as connection:  # as if hub 1 were not upgraded
        connection.execute("UPDATE discovery.hubs SET version = '0.0.1' WHERE id = '1'")
        try:
            behind = only(doctor(lab)[1], "upgrade")
        finally:
            connection.execute("UPDATE discovery.hubs SET version = %s WHERE id = '1'", (__version__,))
    assert behind["status"] == "warn" and behind["message"] == f"hub 1 runs appliance 0.0.1; {__version__} is " \
        "installed here.", behind
    assert "`appliance upgrade`" in behind["fix"]

    for _ in range(CRASHES_WARN):
        crash(lab, "renderer")
    exit_code, findings = doctor(lab)
    assert exit_code == 1
    restarts = only(findings, "restarts")
    assert restarts["status"] == "warn", restarts
    assert restarts["message"] == f"renderer crashed {CRASHES_WARN} times in the last 24 hours."
    assert restarts["fix"] == "Read why: `appliance logs renderer -n 200`."


def record_history(appliance: Appliance, days_ago: int, smaller_by: int) -> None:
    """A size for ``days_ago``, ``smaller_by`` less than the one the portal recorded today."""
    with psycopg.connect(libpq_url(appliance.database_url()), autocommit=True) as connection:
        [today] = connection.execute("SELECT bytes FROM doctor.database_sizes "
                                     "WHERE day = (now() AT TIME ZONE 'UTC')::date").fetchone() or [None]
        assert today is not None, "the portal records today's size when it starts"
        connection.execute("INSERT INTO doctor.database_sizes (day, bytes) "
                           "VALUES ((now() AT TIME ZONE 'UTC')::date - %s, %s)", (days_ago, today - smaller_by))


def crash(appliance: Appliance, name: str) -> None:
    """Kill the component and wait until the supervisor has it healthy again."""
    pid = appliance.component(name)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (now := appliance.component(name))["pid"] in (pid, None) or now["state"] != "healthy":
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
