"""The discovery API through the running portal: hubs register and read access endings with their credential,
a hub asks whether a member is its own, and a signed-in member learns where their research happens."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import create_engine, text

from appliance.config import load_config
from appliance.discovery.service import hub_credentials
from appliance.home import Home
from tests.harness import Appliance
from tests.inprocess.conftest import InProcessPortal, SessionCluster, serving
from tests.integration.oauth import Browser, add_user


@pytest.fixture(scope="module")
def portal_in_process(postgres_cluster: SessionCluster) -> Iterator[InProcessPortal]:
    """The portal of an appliance with two hubs (their registrations are what is tested; no hub runs)."""
    postgres_cluster.hub_databases("hub_1", "hub_2")
    with serving(postgres_cluster, APPLIANCE_HUBS_COUNT="2") as handle:
        yield handle


@pytest.fixture(autouse=True)
def no_hubs(portal_in_process: Appliance) -> Iterator[None]:
    engine = create_engine(portal_in_process.database_url())
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM discovery.hubs"))
    engine.dispose()
    yield
    Browser.close_all()


def hub_call(appliance: Appliance, hub_id: str, verb: str, credential: str | None = None,
             **kwargs: object) -> httpx.Response:
    """A call as hub ``hub_id`` makes it; ``credential`` "" sends none."""
    credential = credential if credential is not None else hub_credentials(Home(appliance.home)).for_hub(hub_id)
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.request("POST" if verb == "register" else "GET",
                         f"{appliance.portal_url}/api/discovery/v1/hubs/{hub_id}/{verb}",
                         headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_a_hub_registers_and_learns_discoverys_timings(portal_in_process: Appliance) -> None:
    registered = hub_call(portal_in_process, "1", "register", json={"spawner": "local", "isolation": "none"})
    assert registered.status_code == 200, registered.text
    assert registered.json() == {"epoch": 1, "members": [], "heartbeat_interval_s": 1.0, "suspect_after_s": 2.0,
                                 "dead_after_s": 4.0, "fence_after": 3, "access_cursor": 0}
    assert hub_call(portal_in_process, "1", "register", json={}).json()["epoch"] == 2


def test_a_hub_registers_the_version_it_runs_cut_to_a_sane_length(portal_in_process: Appliance) -> None:
    """Shown by `appliance status` and the console, checked by `appliance doctor`: an upgrade's progress."""
    engine = create_engine(portal_in_process.database_url())

    def registered_version(version: object) -> str:
        assert hub_call(portal_in_process, "1", "register", json={"version": version}).status_code == 200
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version FROM discovery.hubs WHERE id = '1'")).scalar_one())

    try:
        assert registered_version("0.2.0") == "0.2.0"
        assert registered_version("9" * 500) == "9" * 64
        assert hub_call(portal_in_process, "1", "register", json={}).status_code == 200
        with engine.connect() as connection:  # a hub of a release that did not say
            assert connection.execute(text("SELECT version FROM discovery.hubs WHERE id = '1'")).scalar_one() == ""
    finally:
        engine.dispose()


def test_a_hub_reads_the_access_endings_since_its_cursor(portal_in_process: Appliance) -> None:
    cursor = hub_call(portal_in_process, "1", "register", json={}).json()["access_cursor"]
    add_user(portal_in_process, "erin")
    for change in (("set-password", "erin"), ("disable", "erin")):
        assert portal_in_process.cli("users", *change).returncode == 0
    # the hub was silent meanwhile (the commands take seconds): registering again, it reads on from before
    # its last heartbeat, so it misses nothing
    registered = hub_call(portal_in_process, "1", "register", json={}).json()
    assert registered["access_cursor"] <= cursor
    read = hub_call(portal_in_process, "1", f"access-endings?since={registered['access_cursor']}").json()
    assert [(ending["username"], ending["reason"]) for ending in read["access_endings"]
            if ending["username"] == "erin"] == [("erin", "password"), ("erin", "disabled")]
    assert read["access_cursor"] == read["access_endings"][-1]["id"] > cursor
    again = hub_call(portal_in_process, "1", f"access-endings?since={read['access_cursor']}").json()
    assert again == {"access_endings": [], "access_cursor": read["access_cursor"]}


@pytest.mark.parametrize("credential", ["", "forged", "hub-2's"])
def test_a_wrong_or_missing_credential_is_refused(portal_in_process: Appliance, credential: str) -> None:
    if credential == "hub-2's":
        credential = hub_credentials(Home(portal_in_process.home)).for_hub("2")
    for verb in ("register", "access-endings?since=0", "access-endings?since=x", "members/alice"):
        for body in (b'{"spawner": "local"}', b"not json"):  # the credential is checked first
            response = hub_call(portal_in_process, "1", verb, credential, content=body)
            assert response.status_code == 401 and response.json()["ok"] is False, (verb, body, response.text)


@pytest.mark.parametrize("query", ["", "?since=", "?since=x", "?since=-1", "?since=1.5", f"?since={2**63}"])
def test_a_malformed_cursor_is_a_clear_400(portal_in_process: Appliance, query: str) -> None:
    response = hub_call(portal_in_process, "1", f"access-endings{query}")
    assert response.status_code == 400 and "?since=N" in response.json()["error"], response.text


def test_a_malformed_registration_is_a_clear_400(portal_in_process: Appliance) -> None:
    for body in (b"not json", b"[1, 2]"):
        response = hub_call(portal_in_process, "1", "register", content=body)
        assert response.status_code == 400 and "JSON object" in response.json()["error"], response.text


def test_a_hub_this_appliance_does_not_run_cannot_register(portal_in_process: Appliance) -> None:
    """Hub 3 (hubs.count is 2) or a node's that never joined: its credential is right, and still it is refused."""
    for hub_id in ("3", "101"):
        response = hub_call(portal_in_process, hub_id, "register", json={})
        assert response.status_code == 404 and "appliance nodes remove" in response.json()["error"], response.text
    engine = create_engine(portal_in_process.database_url())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM discovery.hubs")).scalar_one() == 0
    engine.dispose()


def carried_placement(browser: Browser) -> dict[str, object] | None:
    """The placement the Research page carries for its script (its data-placement), if any."""
    page = browser.http.get("/research")
    assert page.status_code == 200, page.status_code
    found = re.search(r"data-placement='([^']*)'", page.text)
    return json.loads(html.unescape(found.group(1))) if found else None


def test_a_member_learns_their_hub_and_only_that_hub_admits_them(portal_in_process: Appliance) -> None:
    for hub_id in ("1", "2"):
        hub_call(portal_in_process, hub_id, "register", json={"spawner": "local", "isolation": "none"})
    browser = Browser(portal_in_process)
    assert browser.http.get("/api/discovery/v1/me").status_code == 401
    password = add_user(portal_in_process, "dora")
    assert browser.sign_in("dora", password).status_code == 303
    placed = browser.http.get("/api/discovery/v1/me").json()
    assert placed == {"hub": "1", "state": "routable", "moved": True, "path": "/hubs/1/"}
    assert browser.http.get("/api/discovery/v1/me").json()["moved"] is False
    assert carried_placement(browser) == {**placed, "moved": False}  # the Research page knows it at once
    assert hub_call(portal_in_process, "1", "members/dora").json() == {"assigned": True, "hub": "1"}
    assert hub_call(portal_in_process, "2", "members/dora").json() == {"assigned": False, "hub": "1"}
    assert hub_call(portal_in_process, "2", "members/nobody").json() == {"assigned": False, "hub": None}


def framed(browser: Browser, query: str = "") -> str:
    """Where the Research page's frame starts: its iframe's src."""
    page = browser.http.get("/research" + query)
    found = re.search(r'<iframe id="lab"[^>]* src="([^"]*)"', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def test_the_research_frame_is_sent_to_jupyterlab_on_the_members_own_hub(portal_in_process: Appliance) -> None:
    for hub_id in ("1", "2"):
        hub_call(portal_in_process, hub_id, "register", json={"spawner": "local", "isolation": "none"})
    browser = Browser(portal_in_process)
    assert browser.http.get("/research/lab").headers["location"] == "/login?next=%2Fresearch"
    browser.sign_in("flo", add_user(portal_in_process, "flo"))
    hub = browser.http.get("/api/discovery/v1/me").json()["hub"]
    user_redirect = f"{load_config(environ=portal_in_process.env).addresses.hub_origin}/hubs/{hub}/hub/user-redirect/"

    def lab(query: str = "") -> str:
        answer = browser.http.get("/research/lab" + query)
        assert answer.status_code == 303 and answer.headers["cache-control"] == "no-store"
        location: str = answer.headers["location"]
        assert location.startswith(user_redirect), location
        return location.removeprefix(user_redirect)

    assert lab() == "lab"
    assert lab("?" + urlencode({"open": "papers/draft 1.ipynb"})) == "lab/tree/papers/draft%201.ipynb"
    assert lab("?" + urlencode({"open": "../../hub/logout"})) == "lab"  # only ever a path in their own files
    # the page sends its frame there while it is parsed, the opened path with it
    assert framed(browser) == "/research/lab"
    assert framed(browser, "?open=papers%2Fdraft.ipynb") == "/research/lab?open=papers%2Fdraft.ipynb"


def test_the_portal_releases_a_silent_hubs_members_once_it_is_dead(new_portal: Callable[..., Appliance],
                                                                   portal_in_process: Appliance) -> None:
    # (after the module's portal, which made the hubs' databases)
    appliance = new_portal(APPLIANCE_HUBS_COUNT="1", APPLIANCE_DISCOVERY_HEARTBEAT_INTERVAL_S="0.2",
                           APPLIANCE_DISCOVERY_SUSPECT_AFTER_S="0.5",
                           APPLIANCE_DISCOVERY_DEAD_AFTER_S="1.5", APPLIANCE_DISCOVERY_FENCE_AFTER="2")
    browser = Browser(appliance)
    browser.sign_in("eve", add_user(appliance, "eve"))
    hub_call(appliance, "1", "register", json={})  # and then not one heartbeat
    assert browser.http.get("/api/discovery/v1/me").json()["hub"] == "1"
    assert hub_call(appliance, "1", "members/eve").json()["assigned"] is True
    began = time.monotonic()
    while hub_call(appliance, "1", "members/eve").json()["hub"] is not None:  # silent from now on
        assert time.monotonic() - began < 5, "the dead hub still holds its member"
        time.sleep(0.1)
    assert time.monotonic() - began >= 1.0  # not before it was dead
    # the portal's reaper (every heartbeat interval) then gives the member back: the hub counts none
    while (listed := json.loads(appliance.cli("hubs", "list", "--json").stdout))[0]["assigned"]:
        assert time.monotonic() - began < 5, "the dead hub's member was not released"
        time.sleep(0.1)
    assert [(h["id"], h["state"], h["assigned"]) for h in listed] == [("1", "dead", 0)]
    answer = browser.http.get("/api/discovery/v1/me")
    assert answer.status_code == 503 and "no hub is up right now" in answer.json()["error"]
    assert carried_placement(browser) is None  # the page's script asks /me, and says the same
    assert framed(browser) == "about:blank"  # and sends the frame once a hub takes them
    refused = browser.http.get("/research/lab")
    assert refused.status_code == 503 and "tries again" in refused.text
