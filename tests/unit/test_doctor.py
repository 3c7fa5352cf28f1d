"""`appliance doctor`'s checks, each on made-up facts of a machine (tests/integration/test_doctor.py runs the
command on real ones)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest

from appliance.doctor import checks, growth
from appliance.doctor.checks import FAIL, OK, WARN, Finding, Server
from appliance.doctor.report import render

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
GB = 1024**3


def statuses(findings: list[Finding]) -> list[str]:
    return [finding.status for finding in findings]


def test_a_name_must_resolve_to_this_machine() -> None:
    dns = {"lab.example.org": ["192.0.2.10"], "hub.lab.example.org": ["198.51.100.7"], "gone.example.org": []}
    found = checks.names(["lab.example.org", "hub.lab.example.org", "gone.example.org", "lab.localhost", "10.0.0.1"],
                         lambda host: dns[host], local={"127.0.0.1", "192.0.2.10"})
    assert statuses(found) == [OK, FAIL, FAIL]  # *.localhost is loopback in browsers; an address is no name
    assert "198.51.100.7, not to this machine" in found[1].message
    assert "does not resolve" in found[2].message and "192.0.2.10" in found[2].fix


def test_a_certificate_close_to_its_end_or_past_it_is_flagged() -> None:
    assert statuses(checks.certificate("/c.pem", NOW + timedelta(days=80), [], NOW)) == [OK]
    soon = checks.certificate("/c.pem", NOW + timedelta(days=10), [], NOW)
    assert statuses(soon) == [WARN] and "expires in 10 days" in soon[0].message and "certbot renew" in soon[0].fix
    assert statuses(checks.certificate("/c.pem", NOW - timedelta(days=2), [], NOW)) == [FAIL]
    unnamed = checks.certificate("/c.pem", NOW + timedelta(days=80), ["*.hub.lab.example.org"], NOW)
    assert statuses(unnamed) == [OK, FAIL] and "*.hub.lab.example.org" in unnamed[1].message
    assert statuses(checks.certificate("/c.pem", None, [], NOW)) == [FAIL]  # unreadable
    assert statuses(checks.certificate("", None, [], NOW)) == [OK]  # plain HTTP


def test_a_full_ish_disk_and_fast_growth_are_flagged() -> None:
    roomy = checks.disk({"home": ("/var/lib/appliance", 200 * GB, 500 * GB)}, None)
    assert statuses(roomy) == [OK]
    small = checks.disk({"home": ("/srv", 300 * 1024**2, 1 * GB)}, None)  # 29% free, but 300 MB
    assert statuses(small) == [WARN] and "300.0 MB free of 1.0 GB" in small[0].message
    assert statuses(checks.disk({"logs": ("/l", 1 * GB, 100 * GB)}, None)) == [FAIL]
    growing = checks.disk({"database": ("/db", 100 * GB, 400 * GB)}, growth_per_day=5 * GB)
    assert statuses(growing) == [OK, WARN] and "full in 20 days" in growing[1].message


def test_a_backup_older_than_a_week_or_none_is_flagged() -> None:
    assert statuses(checks.backup(None, NOW)) == [WARN]
    old = checks.backup({"file": "/b/a.tar", "created": (NOW - timedelta(days=8)).isoformat()}, NOW)
    assert statuses(old) == [WARN] and "8 days old" in old[0].message and "appliance backup" in old[0].fix
    fresh = checks.backup({"file": "/b/a.tar", "created": (NOW - timedelta(hours=5)).isoformat()}, NOW)
    assert statuses(fresh) == [OK] and "5 hours old" in fresh[0].message


def test_clock_skew_versions_and_crashes() -> None:
    assert statuses(checks.clock(0.3, "the database server")) == [OK]
    assert "ahead of" in checks.clock(7.5, "the database server")[0].message
    assert checks.clock(None, "the database server") == []
    assert statuses(checks.versions({}, 30)) == [OK]
    newer = {"jupyterhub": "7.0.0 is installed; this release was tested with <7"}
    assert statuses(checks.versions(newer, 30)) == [WARN]
    assert statuses(checks.upgrade({"1": "0.2.0", "2": "0.2.0"}, "0.2.0", ["1", "2"])) == [OK]
    behind = checks.upgrade({"1": "0.2.0", "2": "0.1.0", "3": ""}, "0.2.0", ["1", "2"])
    assert [f.message for f in behind] == ["hub 2 runs appliance 0.1.0; 0.2.0 is installed here.",
                                           "hub 3 runs appliance of an earlier release; 0.2.0 is installed here."]
    assert "`appliance upgrade`" in behind[0].fix
    assert "installer of 0.2.0 on the node that serves hub 3" in behind[1].fix
    assert statuses(checks.restarts({"hub-1": 1, "renderer": 0})) == [OK]
    flagged = checks.restarts({"hub-1": 4, "renderer": 3, "portal": 2})
    assert [f.message for f in flagged] == ["hub-1 crashed 4 times in the last 24 hours.",
                                            "renderer crashed 3 times in the last 24 hours."]


def test_a_server_whose_hub_is_gone_or_no_longer_the_members_is_flagged() -> None:
    running = [Server("ada", "1", 101), Server("bob", "2", 102), Server("cy", "3", 103), Server("di", "1", 104)]
    found = checks.servers(running, {"1": "routable", "2": "dead"}, {"ada": "1", "bob": None, "cy": None, "di": "2"})
    assert [f.message for f in found] == [
        "bob's server (pid 102) has no hub: its hub 2 is dead.",
        "cy's server (pid 103) has no hub: its hub 3 is removed.",
        "di's server (pid 104) has no hub: the member is on hub 2 now, not on its hub 1."]
    assert statuses(checks.servers(running[:1], {"1": "restarting"}, {"ada": "1"})) == [OK]  # back soon


def test_the_report_reads_as_a_list_of_problems_and_fixes() -> None:
    text = render([Finding("backup", WARN, "No backup.", "Run appliance backup."), Finding("disk", OK, "Roomy.")])
    assert text.splitlines() == [f"warn  {'backup':<12} No backup.", f"{'':18}→ Run appliance backup.",
                                 f"  ok  {'disk':<12} Roomy.", "", "1 problem found."]
    assert render([Finding("disk", OK, "Roomy.")]).endswith("No problem found.")


async def test_cancelled_recording_ends_only_once_the_query_under_way_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal disposes of the engine right after: a query still running would leave its connection open."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_record(engine: object, today: object) -> int:
        started.set()
        release.wait(5)
        finished.set()
        return 0

    monkeypatch.setattr(growth, "record_size", slow_record)
    recording = asyncio.create_task(growth.keep_recording(engine=None))  # type: ignore[arg-type]
    await asyncio.to_thread(started.wait, 5)
    recording.cancel()
    await asyncio.sleep(0.1)
    assert not recording.done()  # still waiting for the query
    release.set()
    await asyncio.wait([recording])
    assert finished.is_set() and recording.cancelled()
