"""The console's Hubs and System pages in Chromium: the hubs' state updates without a reload (a drain clicked
on the page, an undrain from the command line), the chart draws every hub from the portal's samples in both
windows, and neither page breaks the portal's Content-Security-Policy. Screenshots in artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.oauth import add_user


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    """Two hubs, sampled every second."""
    yield from running(hubs=2, APPLIANCE_DISCOVERY_SAMPLE_INTERVAL_S="1")


def sign_in_as_admin(page: Page, lab: Appliance, username: str, next_path: str) -> None:
    password = add_user(lab, username, "--admin")
    page.goto(f"{lab.public_portal_url}{next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{lab.public_portal_url}{next_path}")


def hub_row(page: Page, hub_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#hubs-rows tr[data-hub="{hub_id}"]')


def test_the_hubs_page_updates_live_and_draws_the_chart(lab: Appliance, page: Page, csp_violations: list[str],
                                                         artifacts: Path) -> None:
    sign_in_as_admin(page, lab, "hubadmin", "/admin/hubs")
    expect(page.get_by_role("link", name="Hubs")).to_have_attribute("aria-current", "page")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates
    for hub_id in ("1", "2"):
        expect(hub_row(page, hub_id).locator(".state")).to_have_text("routable")

    hub_row(page, "1").get_by_role("button", name="Drain hub 1: no new members").click()
    expect(hub_row(page, "1").locator(".state")).to_have_text("draining", timeout=5000)
    expect(page.locator("#hubs-status")).to_contain_text("Hub 1: draining")
    undrained = lab.cli("hubs", "undrain", "1")  # changed elsewhere: the page shows it by itself
    assert undrained.returncode == 0, undrained.stderr
    expect(hub_row(page, "1").locator(".state")).to_have_text("routable", timeout=6000)
    expect(hub_row(page, "1").get_by_role("button", name="Drain hub 1: no new members")).to_be_visible()

    for hub_id in ("1", "2"):  # a line per hub and series, from at least one sample
        expect(page.locator(f'#hubs-chart path[data-hub="{hub_id}"][data-series="running"]')).to_have_count(
            1, timeout=20000)
    expect(page.locator("#hubs-legend li")).to_have_count(2)
    page.screenshot(path=str(artifacts / "admin-hubs.png"), full_page=True)
    page.get_by_role("button", name="7 days").click()
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#hubs-chart title")).to_contain_text("last 7 days")
    page.screenshot(path=str(artifacts / "admin-hubs-7-days.png"), full_page=True)
    assert page.evaluate("window.sameDocument") is True
    assert csp_violations == []


def test_the_system_page_shows_the_components_and_no_secret(lab: Appliance, page: Page, csp_violations: list[str],
                                                            artifacts: Path) -> None:
    sign_in_as_admin(page, lab, "sysadmin", "/admin/system")
    expect(page.get_by_role("link", name="System")).to_have_attribute("aria-current", "page")
    for component in ("postgres", "portal", "proxy", "hub-1", "hub-2", "renderer"):
        expect(page.locator("#components").get_by_role("rowheader", name=component, exact=True)).to_be_visible()
    expect(page.locator("#configuration")).to_contain_text("hubs.count")
    text = page.content()
    for secret in (lab.home / "secrets").iterdir():
        value = secret.read_text().strip()
        assert len(value) < 6 or value not in text, f"{secret.name} is shown"
    page.screenshot(path=str(artifacts / "admin-system.png"), full_page=True)
    assert csp_violations == []
