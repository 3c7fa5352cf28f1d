"""The Research page in a real browser: a member signs in, opens Research and lands in JupyterLab
inside the portal's frame, served by the hub discovery placed them on."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.harness import Appliance
from tests.integration.oauth import add_user

ON_HUB = re.compile(r"on hub (\d+)")


def sign_in(page: Page, appliance: Appliance, username: str, next_path: str) -> None:
    password = add_user(appliance, username)
    page.goto(f"{appliance.portal_url}{next_path}")  # not signed in: the portal asks first
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_new_member_lands_in_jupyterlab_inside_the_research_page(running_lab: Appliance, page: Page,
                                                                  artifacts: Path) -> None:
    sign_in(page, running_lab, "hedy", "/research")
    page.wait_for_url(f"{running_lab.portal_url}/research")
    expect(page.get_by_role("status")).to_contain_text("hub 1")
    page.screenshot(path=str(artifacts / "research-starting.png"))
    jupyterlab = page.frame_locator("#lab")
    expect(jupyterlab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)  # JupyterLab has started
    expect(jupyterlab.locator("#jupyterlab-splash")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("JupyterLab on hub 1")
    page.screenshot(path=str(artifacts / "research-jupyterlab.png"))


def test_a_second_member_is_placed_on_the_other_hub(running_lab: Appliance, chromium: Browser,
                                                   artifacts: Path) -> None:
    placed = []
    for name in ("ida", "kay"):
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        sign_in(page, running_lab, name, "/research")
        expect(page.get_by_role("status")).to_have_text(ON_HUB)
        placed.append(ON_HUB.findall(page.get_by_role("status").inner_text())[0])
        if name == "kay":
            expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=90_000)
            page.screenshot(path=str(artifacts / "research-second-member.png"))
        context.close()
    assert sorted(placed) == ["1", "2"], placed


def test_a_path_that_is_not_a_file_name_is_refused_with_a_note(running_lab: Appliance, page: Page) -> None:
    sign_in(page, running_lab, "joan", "/research?open=../../etc/passwd")
    expect(page.get_by_text("is not a path in your files")).to_be_visible()
