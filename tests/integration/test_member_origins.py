"""Every member's server on a host of its own (the trial names: lab.localhost, hub.lab.localhost,
<name>.hub.lab.localhost on the front proxy's one port), so that nothing a member serves shares an
origin with a colleague's server, a hub or the portal."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import Member, start_server
from tests.integration.oauth import Browser, browser_client


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def test_a_member_gets_their_jupyterlab_on_a_host_of_their_own(lab: Appliance) -> None:
    member = Member.new(lab, "alice")
    with browser_client() as browser:
        landed = start_server(lab, f"{lab.proxy_url}/hubs/{member.hub_id()}", member.name, member.password, browser)
    assert urlsplit(str(landed.url)).hostname == "alice.hub.lab.localhost"
    assert urlsplit(lab.public_portal_url).hostname == "lab.localhost"


def test_status_says_members_are_isolated_on_the_trial_names_and_where_they_work(lab: Appliance) -> None:
    members = httpx.get(f"{lab.portal_url}/api/status").json()["members"]
    assert members["isolated"] is True and "(<name>.hub.lab.localhost)" in members["note"]
    status = " ".join(lab.cli("status").stdout.split())  # as wrapped for the terminal
    assert "Members are isolated from each other" in status and "a browser running on it" in status


def test_the_portals_host_name_answers_as_soon_as_a_restarted_proxy_is_healthy(lab: Appliance) -> None:
    restarted = lab.cli("restart", "proxy")
    assert restarted.returncode == 0, restarted.stderr
    assert httpx.get(f"{lab.public_portal_url}/healthz", timeout=10).text == "ok"  # no wait: the route is there
