"""Signing in, in a real browser: the portal's own pages, and a hub's login through the portal."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.harness import Appliance
from tests.integration.hub import Hub
from tests.integration.oauth import add_user


@pytest.fixture(scope="module")
def hub(running_appliance: Appliance) -> Iterator[Hub]:
    with tempfile.TemporaryDirectory(prefix="hub-") as workdir:
        handle = Hub(running_appliance, Path(workdir), name="browser")
        try:
            handle.start()
            yield handle
        finally:
            handle.stop()


def test_login_page_sign_in_and_out(running_appliance: Appliance, page: Page, artifacts: Path,
                                    csp_violations: list[str]) -> None:
    password = add_user(running_appliance, "ada", "--name", "Ada Lovelace")
    page.goto(running_appliance.public_portal_url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=str(artifacts / "login.png"))

    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("not-it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    page.screenshot(path=str(artifacts / "login-error.png"))

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as ada")).to_be_visible()
    page.get_by_text("Signed in as ada").click()
    page.screenshot(path=str(artifacts / "signed-in-menu.png"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert csp_violations == []


def test_hub_login_through_the_portal(running_appliance: Appliance, hub: Hub, page: Page, artifacts: Path,
                                     csp_violations: list[str]) -> None:
    password = add_user(running_appliance, "grace", "--group", "physics")
    page.goto(f"{hub.url}/hub/oauth_login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.startswith(running_appliance.public_portal_url + "/login?next=%2Foauth%2Fauthorize")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{hub.url}/hub/**")
    page.screenshot(path=str(artifacts / "hub-after-login.png"))
    assert hub.user("grace").json()["groups"] == ["physics"]
    assert csp_violations == []  # form-action let the sign-in's redirects reach the hub's callback
