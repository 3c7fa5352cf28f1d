"""The storage API in a started appliance: what its portal logs of storage calls, and PostgreSQL dying under it.
The rest of the storage API's rules are tested in-process (tests/inprocess/test_storage.py)."""

from __future__ import annotations

import os
import signal
import time

import httpx

from tests.harness import Appliance
from tests.integration.storage_client import StorageCaller, mint, new_member


def test_the_access_log_keeps_pages_and_failed_storage_calls_only(running_appliance: Appliance) -> None:
    name = new_member()
    member = StorageCaller(running_appliance, mint(running_appliance, name))
    member.write(f"{name}.txt", b"x")
    member.read(f"{name}.txt")
    assert member.read(f"{name}-missing.txt").status_code == 404
    httpx.get(f"{running_appliance.portal_url}/login?from={name}")
    log = running_appliance.home / "logs" / "portal.log"
    deadline = time.monotonic() + 5
    while f"/login?from={name}" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in log.read_text().splitlines() if name in line]
    assert any(f"/login?from={name}" in line for line in lines)
    assert any(f"{name}-missing.txt" in line and " 404" in line for line in lines)
    assert not any(f"/{name}.txt" in line for line in lines), lines


def test_after_postgres_restarts_no_storage_call_fails(appliance: Appliance) -> None:
    appliance.up()
    member = StorageCaller(appliance, mint(appliance, new_member()))
    member.write("a.txt", b"kept")
    for _ in range(30):  # every pooled connection has been used recently
        assert member.read("a.txt").status_code == 200
    killed = appliance.component("postgres")["pid"]
    os.kill(killed, signal.SIGKILL)
    appliance.wait_healthy(restarted=lambda report: all(  # once the supervisor saw it die and started it again
        component["pid"] != killed for component in report["components"] if component["name"] == "postgres"))
    answers = [member.read("a.txt").status_code for _ in range(40)]
    assert answers == [200] * 40
