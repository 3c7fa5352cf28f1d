"""The hubs' idle culler: a member's server in use keeps running past the idle timeout, and an idle one is
stopped by the culler once the timeout has passed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.harness import Appliance
from tests.integration.lab import Member, server_url, user_servers
from tests.integration.oauth import Browser, browser_client, follow, log_in_through_hub

TIMEOUT_S = 5  # the culler checks every 2 s; servers report their activity every second


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def server_running(name: str) -> bool:
    """Whether the member's JupyterLab server process is alive."""
    return bool(user_servers(name))


def test_a_server_in_use_is_kept_and_an_idle_one_is_culled_after_the_timeout(appliance: Appliance) -> None:
    appliance.with_hubs(1).env["APPLIANCE_HUBS_IDLE_TIMEOUT_S"] = str(TIMEOUT_S)
    appliance.up()
    member = Member.new(appliance, f"i{secrets.token_hex(4)}")
    name, password = member.name, member.password
    assert member.hub_id() == "1"  # discovery places the member
    hub = f"{appliance.proxy_url}/hubs/1"
    hub_log = appliance.home / "logs" / "hub-1.log"
    with browser_client() as browser:
        log_in_through_hub(appliance, hub, name, password, browser)
        landed = follow(browser, f"{hub}/hub/spawn")
        assert landed.status_code == 200 and urlsplit(str(landed.url)).path.endswith(f"/user/{name}/lab"), (
            landed.url, hub_log.read_text()[-4000:])
        server = server_url(landed)
        busy_until = time.monotonic() + 2 * TIMEOUT_S  # past the timeout plus a cull check
        while time.monotonic() < busy_until:
            assert browser.get(f"{server}/api/contents").status_code == 200, hub_log.read_text()[-4000:]
            time.sleep(0.5)
        last_used = time.monotonic()
    assert server_running(name), f"culled while in use:\n{hub_log.read_text()[-4000:]}"

    while server_running(name):
        assert time.monotonic() - last_used < 4 * TIMEOUT_S, f"not culled:\n{hub_log.read_text()[-4000:]}"
        time.sleep(0.2)
    assert time.monotonic() - last_used >= TIMEOUT_S - 1  # idle for the timeout, give or take a report
    assert f"Culling server {name}" in hub_log.read_text()
