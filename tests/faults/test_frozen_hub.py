"""A hub frozen (SIGSTOP) past dead_after while members save all along, saver.MEMBERS on each hub. Discovery
declares the frozen hub dead and moves its members; when the hub runs again it finds itself silent past the fence
count, stops its servers and exits, and the supervisor starts it again. The other hub's members never notice; a
moved member's open JupyterLab loses its server with a clear answer, and a new visit takes them to the live hub.
Of what anyone was told was saved, nothing is lost or corrupted."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.faults.conftest import running
from tests.faults.saver import MEMBERS, Savers
from tests.faults.test_outages import DISCOVERY, where_served
from tests.harness import Appliance
from tests.integration.lab import MemberServer, server_url, start_server, user_servers, wait_for
from tests.integration.oauth import Browser
from tests.integration.storage_client import StorageCaller, mint

BACK_WITHIN_S = 30  # the fenced hub's exit, the supervisor's restart and its registration, on a loaded box


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=2, **DISCOVERY)


def states(lab: Appliance) -> dict[str, str]:
    return {hub["id"]: hub["state"] for hub in json.loads(lab.cli("hubs", "list", "--json").stdout)}


def test_a_hub_frozen_past_dead_after_moves_its_member_fences_when_it_runs_again_and_loses_no_save(
        lab: Appliance) -> None:
    members = [MemberServer(lab, f"m{uuid.uuid4().hex[:6]}") for _ in range(2 * MEMBERS)]
    frozen_hub = members[0].member.hub_id()
    frozen = [member for member in members if member.member.hub_id() == frozen_hub]
    staying = [member for member in members if member not in frozen]
    live_hub = staying[0].member.hub_id()  # each placed on the hub with the fewest members
    assert frozen_hub != live_hub and len(frozen) == len(staying) == MEMBERS
    before = [where_served(member) for member in staying]
    log = lab.home / "logs" / f"hub-{frozen_hub}.log"
    component = lab.component(f"hub-{frozen_hub}")
    with Savers(staying) as kept, Savers(frozen) as cut:
        kept.wait_for_saves(5)
        cut.wait_for_saves(5)
        os.kill(component["pid"], signal.SIGSTOP)
        try:
            wait_for(lambda: states(lab)[frozen_hub] == "dead", 15, "the frozen hub declared dead")
            for member in frozen:
                moved = member.member.portal.http.get("/api/discovery/v1/me").json()
                assert (moved["hub"], moved["moved"]) == (live_hub, True)
        finally:
            os.kill(component["pid"], signal.SIGCONT)
        wait_for(lambda: "fencing hub" in log.read_text(), 10, "the hub, running again, fencing itself")
        wait_for(lambda: all(user_servers(member.name) == [] for member in frozen), 10,
                 "the fence stopping the moved members' servers")
        cut.wait_for_failures(3)
        lab.wait_healthy(timeout=60, restarted=lambda report: next(
            c for c in report["components"] if c["name"] == f"hub-{frozen_hub}")["restarts"] > component["restarts"])
        kept.wait_for_saves(5, timeout=BACK_WITHIN_S)
    kept.report(f"hub {frozen_hub} frozen past dead_after, the members on hub {live_hub}")
    cut.report(f"hub {frozen_hub} frozen past dead_after, its own members (moved; their servers stopped by the fence)")
    assert kept.failures() == [] and [where_served(member) for member in staying] == before
    unclear = [(f.status, f.message) for f in cut.failures() if f.status not in (0, 404, 424, 503)]
    assert unclear == [], unclear
    for savers in (kept, cut):
        assert savers.lost_and_corrupted(lambda name: StorageCaller(lab, mint(lab, name))) == ([], [])
    # a moved member's next visit: a server on the live hub, with their notebooks
    first, first_saves = frozen[0], cut.each[0].saves
    landed = start_server(lab, f"{lab.proxy_url}/hubs/{live_hub}", first.name, first.member.password, first.browser)
    listed = first.browser.get(f"{server_url(landed)}/api/contents").json()["content"]
    assert {save.path for save in first_saves if save.acknowledged} <= {item["name"] for item in listed}
    for member in members:
        member.browser.close()
    Browser.close_all()
