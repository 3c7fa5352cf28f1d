"""One product for members, tried as a new member would in Chromium: the sign-in page's title, a home
page without the system's health (an admin's card, from real checks), the 404 page of a signed-in member,
the account menu and Escape, the error label's contrast, the pages at 390 px, the Research page showing
JupyterHub's own progress and then only JupyterLab, the member's server started, stopped and restarted
from the portal with its memory, branded hub error pages and the first admin's one-line password.
Every page is captured at 1280 and 390 px wide in artifacts/ (``<name>-1280.png``, ``<name>-390.png``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.signing import sign_in, sign_in_new
from tests.harness import Appliance
from tests.integration.conftest import running

WIDTHS = (1280, 390)
LAB_TIMEOUT_MS = 120_000
SERVER = "/api/research/v1/server"


@pytest.fixture(scope="module")
def one_hub_lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


def shoot(page: Page, artifacts: Path, name: str) -> None:
    """The page at both widths, and nothing wider than the window at either."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"))
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide at {width} px"
    page.set_viewport_size({"width": 1280, "height": 800})


def ask(page: Page, path: str, method: str = "GET", csrf: bool = False) -> tuple[int, Any]:
    """The portal's answer to a request from the page itself (Playwright's own requests resolve names with
    Node's resolver, which does not know *.localhost), with the page's CSRF token when ``csrf``."""
    answer = page.evaluate("""async ([path, method, csrf]) => {
        const bar = document.getElementById("research-bar");
        const headers = csrf && bar ? {"X-CSRF-Token": bar.dataset.csrf} : {};
        const response = await fetch(path, {method, headers, credentials: "same-origin"});
        return [response.status, await response.json()];
    }""", [path, method, csrf])
    return int(answer[0]), answer[1]


def contrast(page: Page, selector: str) -> float:
    """WCAG contrast ratio of an element's text colour against the background it is drawn on."""
    return float(page.evaluate("""(selector) => {
        const luminance = (css) => {
            const [r, g, b] = css.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
                v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const element = document.querySelector(selector);
        let behind = element;  // the nearest ancestor with a background of its own
        while (behind.parentElement && getComputedStyle(behind).backgroundColor === "rgba(0, 0, 0, 0)") {
            behind = behind.parentElement;
        }
        const fore = luminance(getComputedStyle(element).color);
        const back = luminance(getComputedStyle(behind).backgroundColor);
        return (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
    }""", selector))


def test_the_sign_in_page_is_titled_sign_in(one_hub_lab: Appliance, page: Page, artifacts: Path) -> None:
    page.goto(f"{one_hub_lab.public_portal_url}/login")
    assert page.title().startswith("Sign in")
    shoot(page, artifacts, "member-sign-in")


def test_only_an_admin_sees_the_labs_health_and_it_comes_from_real_checks(one_hub_lab: Appliance, page: Page,
                                                                          chromium: Browser, artifacts: Path) -> None:
    page.goto(one_hub_lab.public_portal_url)
    expect(page.get_by_role("heading", name="System status")).to_have_count(0)
    expect(page.get_by_text("Hub origin")).to_have_count(0)
    shoot(page, artifacts, "member-home-anonymous")
    sign_in_new(page, one_hub_lab, "ursula")
    expect(page.get_by_role("heading", name="System status")).to_have_count(0)
    expect(page.get_by_role("link", name="Research")).to_have_count(2)  # the menu's and the card's
    shoot(page, artifacts, "member-home-member")
    admin = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in_new(admin, one_hub_lab, "vera-admin", "--admin")
    card = admin.locator("#system-status")
    expect(card).to_contain_text(re.compile(r"Database\s+answered in [\d.]+ ms"))
    expect(card).to_contain_text(re.compile(r"Hub 1\s+routable, heard [\d.]+ s ago"))  # its heartbeat
    expect(card.get_by_text("Hub origin")).to_have_count(0)
    shoot(admin, artifacts, "member-home-admin")
    admin.context.close()


def test_the_404_page_keeps_a_signed_in_members_menu_and_its_label_is_readable(
        one_hub_lab: Appliance, page: Page, artifacts: Path) -> None:
    sign_in_new(page, one_hub_lab, "wanda")
    page.goto(f"{one_hub_lab.public_portal_url}/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("Signed in as wanda")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    assert contrast(page, ".eyebrow") >= 4.5  # the "ERROR 404" label (1.9:1 before)
    shoot(page, artifacts, "member-404")


def test_the_account_menu_closes_on_escape_and_gives_the_focus_back(one_hub_lab: Appliance, page: Page) -> None:
    sign_in_new(page, one_hub_lab, "xena")
    menu = page.locator("#account-menu")
    menu.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="Change password")).to_be_hidden()
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"


def test_research_shows_the_hubs_progress_then_only_jupyterlab_with_the_servers_controls(
        one_hub_lab: Appliance, page: Page, artifacts: Path) -> None:
    frame_pages: list[str] = []
    page.on("framenavigated", lambda frame: frame_pages.append(frame.url) if frame != page.main_frame else None)
    sign_in_new(page, one_hub_lab, "yara", next_path="/research", lands_on="")
    status, progress = page.get_by_role("status"), page.locator("#spawn-progress")
    expect(progress).to_be_visible()
    expect(page.locator("#lab")).to_have_class(re.compile("loading"))  # nothing of the hub is shown meanwhile
    shoot(page, artifacts, "member-research-starting")
    lab = page.frame_locator("#lab")
    expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=LAB_TIMEOUT_MS)
    expect(status).to_have_text("JupyterLab on hub 1")
    expect(progress).to_be_hidden()
    log = page.locator("#spawn-log").all_inner_texts()
    assert "Server requested" in " ".join(log), log  # JupyterHub's own progress events
    assert not [url for url in frame_pages if "/spawn" in url], frame_pages  # no JupyterHub spawn page
    expect(page.locator("#server-memory")).to_have_text(re.compile(r"Memory \d+ MB"), timeout=15_000)
    shoot(page, artifacts, "member-research-jupyterlab")

    before = ask(page, SERVER)[1]
    assert before["state"] == "running" and before["memory_bytes"] > 10_000_000
    page.get_by_role("button", name="Stop server").click()
    expect(status).to_have_text("Your server on hub 1 is stopped", timeout=60_000)
    assert ask(page, SERVER)[1]["state"] == "stopped"
    shoot(page, artifacts, "member-research-stopped")
    # their JupyterLab's own address, outside the portal: the hub says where to start it, and starts nothing
    outside = page.context.new_page()
    outside.goto(f"{page.locator('#research-bar').get_attribute('data-hub-origin')}/hubs/1/hub/user-redirect/lab")
    expect(outside.get_by_role("heading", name="Your JupyterLab is not running")).to_be_visible()
    expect(outside.get_by_role("button", name="Open Research")).to_have_attribute("href", re.compile(r"/research$"))
    shoot(outside, artifacts, "member-hub-not-running")
    outside.wait_for_timeout(1000)
    assert ask(page, SERVER)[1]["state"] == "stopped"
    outside.close()
    page.get_by_role("button", name="Start server").click()
    expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=LAB_TIMEOUT_MS)
    expect(status).to_have_text("JupyterLab on hub 1")
    started = ask(page, SERVER)[1]["since"]
    page.get_by_role("button", name="Restart server").click()
    expect(page.locator("#spawn-title")).to_have_text(re.compile("Restarting|Starting"))
    expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=LAB_TIMEOUT_MS)
    expect(status).to_have_text("JupyterLab on hub 1")
    restarted = ask(page, SERVER)[1]
    assert restarted["state"] == "running" and restarted["since"] != started


def test_the_server_api_acts_only_for_the_session_with_its_csrf_token(one_hub_lab: Appliance, page: Page,
                                                                      chromium: Browser) -> None:
    stranger = chromium.new_context().new_page()
    stranger.goto(one_hub_lab.public_portal_url)
    assert ask(stranger, SERVER)[0] == 401 and ask(stranger, f"{SERVER}/stop", "POST")[0] == 401
    stranger.context.close()
    sign_in_new(page, one_hub_lab, "zoe", next_path="/research", lands_on="")
    expect(page.get_by_role("status")).to_contain_text("hub 1")
    status, body = ask(page, f"{SERVER}/stop", "POST")  # the portal's own origin, but no token
    assert status == 403 and "CSRF" in body["error"]
    html = page.content()
    secret = (one_hub_lab.home / "secrets" / "hubs-portal-service-token").read_text().strip()
    assert secret not in html  # the hubs' service token never reaches a browser


def test_hub_errors_are_the_labs_pages_not_a_bare_404_none(one_hub_lab: Appliance, page: Page,
                                                           artifacts: Path) -> None:
    sign_in_new(page, one_hub_lab, "abby", next_path="/research", lands_on="")
    expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=LAB_TIMEOUT_MS)
    hub = page.locator("#research-bar").get_attribute("data-hub-origin")
    page.goto(f"{hub}/hubs/1/hub/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert page.title() == "Page not found · Lab notebooks"
    expect(page.get_by_text("None")).to_have_count(0)
    expect(page.get_by_role("link", name="Open Research")).to_have_attribute("href", re.compile(r"/research$"))
    shoot(page, artifacts, "member-hub-404")


def test_the_first_admins_password_file_is_one_line_that_signs_in(one_hub_lab: Appliance, page: Page) -> None:
    text = (one_hub_lab.home / "secrets" / "initial-admin-password").read_text()
    assert text.count("\n") == 1 and text.endswith("\n") and " " not in text.strip()
    sign_in(page, one_hub_lab, "admin", text.strip())
