"""Server profiles (hubs.profiles) through the Research page's start and a real hub: a member of the profile's
group gets its size on their spawned server; a member outside it cannot have it, whether they post to the
portal or straight to the hub's API. (tests/integration/test_fresh_machine.py checks the systemd unit's
MemoryMax; here the local spawner hands the server its size and enforces nothing, and the page says so.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import Member, research_csrf, research_state, user_servers, wait_for
from tests.integration.oauth import Browser, browser_client, log_in_through_hub

PROFILES = 'big: memory=3G cpus=2 groups=big description="Big jobs"'
START = "/api/research/v1/server/start"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1, APPLIANCE_HUBS_PROFILES=PROFILES)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def signed_in_to_hub(lab: Appliance, member: Member) -> str:
    """The member signed in to their hub once (it learns their groups then); the hub's URL."""
    hub_url = f"{lab.proxy_url}/hubs/{member.hub_id()}"
    with browser_client() as browser:
        log_in_through_hub(lab, hub_url, member.name, member.password, browser)
    return hub_url


def start(member: Member, profile: str) -> tuple[int, str]:
    answer = member.portal.http.post(START, headers={"X-CSRF-Token": research_csrf(member)}, json={"profile": profile})
    return answer.status_code, answer.text


def test_a_member_of_the_group_chooses_the_profile_and_their_server_has_its_size(lab: Appliance) -> None:
    ada = Member.new(lab, "profada", groups=("big",))
    signed_in_to_hub(lab, ada)
    page = ada.portal.http.get("/research").text
    assert '<select id="server-profile"' in page and "Big jobs · 3G, 2 CPUs" in page, page[:3000]
    assert "Not enforced on this lab's hubs (isolation: none)" in page

    assert start(ada, "big")[0] == 200
    wait_for(lambda: research_state(ada) == "running", 120, "ada's server to run")
    [server] = user_servers("profada")
    environ = server.environ()
    assert (environ["MEM_LIMIT"], environ["CPU_LIMIT"]) == (str(3 * 1024**3), "2.0")  # JupyterHub's size variables


def test_a_member_outside_the_group_cannot_have_it_from_the_portal_or_the_hub(lab: Appliance) -> None:
    bob = Member.new(lab, "profbob", groups=("physics",))
    hub_url = signed_in_to_hub(lab, bob)
    page = bob.portal.http.get("/research").text
    assert 'id="server-profile"' not in page  # only the standard one: nothing to choose

    status, said = start(bob, "big")
    assert status == 403 and "'big' is for members of big; you are not one" in said, said

    # straight to the hub's API, with the hub's own cookie and XSRF token, as a member's script could
    with browser_client() as browser:
        log_in_through_hub(lab, hub_url, bob.name, bob.password, browser)
        xsrf = next(cookie.value for cookie in browser.cookies.jar if cookie.name == "_xsrf")
        asked = browser.post(f"{hub_url}/hub/api/users/profbob/server", json={"profile": "big"},
                             headers={"X-XSRFToken": xsrf or ""})
    assert asked.status_code >= 400, asked.text
    hub_log = (lab.home / "logs" / f"hub-{bob.hub_id()}.log").read_text()
    assert re.search(r"profbob.*'big' is for members of big", hub_log) or "'big' is for members of big" in asked.text
    assert user_servers("profbob") == [] and research_state(bob) == "stopped"

    assert start(bob, "standard")[0] == 200  # what bob may have
    wait_for(lambda: research_state(bob) == "running", 120, "bob's server to run")
    [server] = user_servers("profbob")
    assert server.environ()["MEM_LIMIT"] == str(2 * 1024**3)  # hubs.memory_limit
