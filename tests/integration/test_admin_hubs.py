"""The console's Hubs page and API on an appliance with two hubs, as an administrator uses them: draining hub 1
sends new members to hub 2 (and undraining brings them back), the hubs are sampled every interval and samples
past their retention are deleted, and restarting one hub leaves the other hub and its members' servers running.
Each action is in the audit log."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import Member, MemberServer, server_hub, user_servers
from tests.integration.oauth import Browser, add_user
from tests.integration.test_hubs import wait_for

API = "/api/admin/v1"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    """Two hubs, sampled every second and samples kept 8 days (the default)."""
    yield from running(hubs=2, APPLIANCE_DISCOVERY_SAMPLE_INTERVAL_S="1")


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


class Console:
    """An administrator signed in at the portal, calling the admin API as the Hubs page's script does (its
    session, and the CSRF token the page carries)."""

    def __init__(self, appliance: Appliance, name: str = "root-admin"):
        password = add_user(appliance, name, "--admin") if name not in _admins else _admins[name]
        _admins[name] = password
        self.browser = Browser(appliance)
        assert self.browser.sign_in(name, password).status_code == 303
        page = self.browser.http.get("/admin/hubs")
        assert page.status_code == 200, page.text[:2000]
        self.page = page.text
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found, "the hubs page carries no CSRF token for its script"
        self.csrf = html.unescape(found.group(1))

    def get(self, path: str, **params: str) -> Any:
        answer = self.browser.http.get(API + path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str) -> httpx.Response:
        return self.browser.http.post(API + path, headers={"X-CSRF-Token": self.csrf})

    def hubs(self) -> dict[str, dict[str, Any]]:
        return {hub["id"]: hub for hub in self.get("/hubs")["hubs"]}


_admins: dict[str, str] = {}


def audit(appliance: Appliance, action: str) -> list[dict[str, Any]]:
    found = appliance.cli("audit", "--action", action, "--json")
    assert found.returncode == 0, found.stderr
    events: list[dict[str, Any]] = json.loads(found.stdout)
    return events


def database(appliance: Appliance) -> psycopg.Connection[tuple[Any, ...]]:
    url = make_url(appliance.database_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def test_draining_hub_1_through_the_api_sends_new_members_to_hub_2_until_it_is_undrained(lab: Appliance) -> None:
    console = Console(lab)
    assert {hub["state"] for hub in console.hubs().values()} == {"routable"}
    drained = console.post("/hubs/1/drain")
    assert drained.status_code == 200, drained.text
    assert drained.json()["hub"]["state"] == "draining" and console.hubs()["1"]["draining"] is True

    placed = [Member.new(lab, f"drain-{n}").hub_id() for n in range(3)]
    assert placed == ["2", "2", "2"]
    assert json.loads(lab.cli("hubs", "list", "--json").stdout)[0]["state"] == "draining"  # the CLI sees it too

    assert console.post("/hubs/1/undrain").json()["hub"]["state"] == "routable"
    assert Member.new(lab, "after-undrain").hub_id() == "1"  # the hub with fewest members again
    actions = [(event["action"], event["target"], event["actor"]) for event in audit(lab, "hub")]
    assert ("hub.drained", "hub 1", "root-admin") in actions and ("hub.undrained", "hub 1", "root-admin") in actions
    assert console.post("/hubs/9/drain").status_code == 404


def test_the_hubs_are_sampled_every_interval_and_old_samples_are_pruned(lab: Appliance) -> None:
    console = Console(lab)
    member = MemberServer(lab, "sampled")
    member.browser.close()
    hub_id = server_hub(user_servers("sampled")[0])

    def sampled_running() -> bool:
        history = console.get("/hubs/history", window="24h")
        return any(series["hub"] == hub_id and max(series["running"]) >= 1 for series in history["hubs"])

    wait_for(sampled_running, 15, f"a sample of hub {hub_id} with {member.name}'s server running")
    with database(lab) as connection:
        rows = connection.execute("SELECT hub_id, count(*) FROM discovery.hub_samples GROUP BY hub_id").fetchall()
        assert {hub for hub, count in rows if count >= 2} == {"1", "2"}  # every second, per hub
        connection.execute(
            "INSERT INTO discovery.hub_samples (at, hub_id, state, members, active, running, pending) VALUES "
            "(now() - interval '9 days', '1', 'routable', 5, 5, 5, 0), "
            "(now() - interval '3 days', '1', 'routable', 4, 4, 4, 0)")

        def pruned() -> bool:
            return connection.execute("SELECT count(*) FROM discovery.hub_samples WHERE at < now() - interval '8 days'"
                                      ).fetchone() == (0,)

        wait_for(pruned, 10, "the 9-day-old sample's deletion (samples_keep_days = 8)")
    week = {series["hub"]: series for series in console.get("/hubs/history", window="7d")["hubs"]}
    day = {series["hub"]: series for series in console.get("/hubs/history", window="24h")["hubs"]}
    assert 4 in week["1"]["running"] and 4 not in day["1"]["running"]
    assert console.browser.http.get(f"{API}/hubs/history", params={"window": "1y"}).status_code == 400


def test_restarting_one_hub_leaves_the_other_and_its_members_servers_running(lab: Appliance) -> None:
    console = Console(lab)
    if not user_servers("sampled"):  # run alone: the sampling test did not start it
        MemberServer(lab, "sampled").browser.close()
    server = user_servers("sampled")[0]
    hub_id = server_hub(server)
    other = "1" if hub_id == "2" else "2"
    before = console.hubs()
    answer = console.post(f"/hubs/{hub_id}/restart")
    assert answer.status_code == 202, answer.text

    seen: list[dict[str, Any]] = []

    def back() -> bool:
        hub = console.hubs()[hub_id]
        seen.append(hub)
        return (hub["state"] == "routable" and hub["process"]["state"] == "healthy"
                and hub["process"]["pid"] != before[hub_id]["process"]["pid"] and hub["running"] >= 1)

    deadline = time.monotonic() + 60
    while not back():
        assert time.monotonic() < deadline, f"hub {hub_id} not back with its member's server within 60 s: {seen[-1]}"
        time.sleep(0.2)
    after = console.hubs()
    assert after[hub_id]["process"]["restarts"] == before[hub_id]["process"]["restarts"] + 1
    assert after[other]["process"]["pid"] == before[other]["process"]["pid"]
    assert server.is_running() and server in user_servers("sampled")
    assert ("hub.restarted", f"hub {hub_id}") in [(e["action"], e["target"]) for e in audit(lab, "hub.restarted")]
