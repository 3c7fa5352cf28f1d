"""Signing out from JupyterLab, in Chromium on the trial names: its File menu has one sign-out item, and
it signs the member out of the portal too, inside the Research page's frame and in a JupyterLab opened
on its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.signing import sign_in_new
from tests.harness import Appliance
from tests.integration.conftest import running

SIGN_OUT_LABELS = re.compile(r"log ?out|sign ?out", re.IGNORECASE)


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


def sign_out_items(jupyterlab: Page | FrameLocator) -> list[tuple[str, str | None]]:
    """Open JupyterLab's File menu; the items that sign or log out, as (label, command)."""
    jupyterlab.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    items = jupyterlab.locator(".lm-Menu").first.locator(".lm-Menu-item:visible")
    expect(items.first).to_be_visible()
    found = [(item.inner_text().strip(), item.get_attribute("data-command")) for item in items.all()]
    return [(label, command) for label, command in found if SIGN_OUT_LABELS.search(label)]


def assert_signed_out(page: Page, lab: Appliance, username: str) -> None:
    """On the portal's home page, signed out; their JupyterLab asks them to sign in again."""
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.url == f"{lab.public_portal_url}/"
    page.goto(f"http://{username}.hub.lab.localhost:{lab.proxy_port}/hubs/1/user/{username}/lab")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=30_000)
    assert page.url.startswith(f"{lab.public_portal_url}/login"), page.url


def test_jupyterlabs_one_sign_out_in_the_research_page_signs_out_of_the_portal(
        lab: Appliance, page: Page, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 960})  # the whole File menu in the screenshot
    sign_in_new(page, lab, "maria", next_path="/research", lands_on="")
    jupyterlab = page.frame_locator("#lab")
    expect(jupyterlab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    assert sign_out_items(jupyterlab) == [("Log Out", "hub:logout")]
    page.screenshot(path=str(artifacts / "jupyterlab-file-menu.png"))
    jupyterlab.locator(".lm-Menu-item:visible", has_text="Log Out").click()
    assert_signed_out(page, lab, "maria")


def test_jupyterlab_opened_on_its_own_signs_out_of_the_portal_with_one_more_click(
        lab: Appliance, page: Page, artifacts: Path) -> None:
    sign_in_new(page, lab, "nadia", next_path="/research", lands_on="")
    expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=90_000)  # her server is up
    page.goto(f"http://nadia.hub.lab.localhost:{lab.proxy_port}/hubs/1/user/nadia/lab")
    expect(page.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    assert sign_out_items(page) == [("Log Out", "hub:logout")]
    page.locator(".lm-Menu-item:visible", has_text="Log Out").click()
    page.wait_for_url(f"{lab.public_portal_url}/research/signed-out")
    expect(page.get_by_role("heading", name="Signed out of JupyterLab")).to_be_visible()
    page.screenshot(path=str(artifacts / "signed-out-of-jupyterlab.png"))
    page.locator("#signed-out").get_by_role("button", name="Sign out").click()
    assert_signed_out(page, lab, "nadia")
