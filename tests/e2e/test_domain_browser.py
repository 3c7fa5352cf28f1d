"""A lab's own domain in a real browser: over HTTPS on lab.test, the Research page frames the member's
JupyterLab from their own host under hub.lab.test, and the browser keeps the two origins' cookies apart, each Secure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import ARGS, CHROMIUM
from tests.integration.domain import HUB_HOST, PORTAL_HOST, Domain, on_domain
from tests.integration.oauth import add_user


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    yield from on_domain()


def test_research_frames_the_lab_from_the_hub_host_over_https(domain: Domain, artifacts: Path) -> None:
    password = add_user(domain.appliance, "grace")
    resolve = f"--host-resolver-rules=MAP {PORTAL_HOST} 127.0.0.1, MAP {HUB_HOST} 127.0.0.1, MAP *.{HUB_HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, resolve])
        # the certificate is checked by tests/integration/test_domain.py; this browser does not know its CA
        context = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
        page = context.new_page()
        page.goto(f"{domain.portal}/research")
        page.get_by_label("Username").fill("grace")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{domain.portal}/research")
        expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=90_000)
        member = f"grace.{HUB_HOST}"
        assert any(frame.url.startswith(f"https://{member}:{domain.appliance.proxy_port}/hubs/1/user/grace/")
                   for frame in page.frames), [frame.url for frame in page.frames]
        page.screenshot(path=str(artifacts / "research-on-own-domain.png"))

        cookies = context.cookies()
        assert cookies and all(cookie["secure"] for cookie in cookies), cookies
        portal_cookies = {cookie["name"] for cookie in cookies if cookie["domain"] == PORTAL_HOST}
        assert portal_cookies == {"__Host-appliance_session"}  # and it never reaches hub.lab.test
        # the hub's session id is JupyterHub's one cookie for its members' hosts (not a credential)
        assert {cookie["domain"] for cookie in cookies} == {PORTAL_HOST, HUB_HOST, f".{HUB_HOST}", member}
        browser.close()
