"""The admin console in Chromium, on one appliance with two hubs (sampled every second):

- the acceptance story: an admin imports three people from CSV (one row bad, reported), disables one while
  their server runs (it stops, and their open Research page is signed out), drains hub 1 and sees a new
  member land on hub 2 without reloading, hides a publication a member reported (gone from /gallery, its
  author sees why), and finds each action in the audit log;
- People: the table and its search, a new person with a one-time sign-up link (which they open and use),
  a CSV import previewed then reported, a person's page, disabling them; usable at 390 px;
- Hubs and System: the state updates without a reload, the chart draws both windows, no secret shown;
- Audit: filters, a search and the CSV export from the keyboard and the mouse;
- Gallery: the publications and the reports.

No page breaks the portal's Content-Security-Policy. Screenshots of every page in artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from appliance import __version__
from tests.e2e.signing import new_member_page, sign_in_as_admin
from tests.harness import Appliance, mint_storage_token
from tests.integration.conftest import running
from tests.integration.oauth import Browser as HttpBrowser
from tests.integration.oauth import add_user, register_client

API = "/api/admin/v1"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    """Two hubs, sampled every second."""
    yield from running(hubs=2, APPLIANCE_DISCOVERY_SAMPLE_INTERVAL_S="1")


def hub_row(page: Page, hub_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#hubs-rows tr[data-hub="{hub_id}"]')


def hub_members(page: Page, hub_id: str):  # type: ignore[no-untyped-def]
    """The hub's row's count of members placed on it (its first number after the heartbeat's age)."""
    return hub_row(page, hub_id).locator("td.num").nth(1)


def admin_api(lab: Appliance, admin: str) -> httpx.Client:
    """The admin API as a script calls it: an admin token of ``admin``'s, made on the command line."""
    made = lab.cli("users", "admin-token", "create", admin, "--name", "e2e", "--scope", "write", "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    return httpx.Client(base_url=f"{lab.portal_url}{API}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def publish(lab: Appliance, member: str, title: str) -> str:
    """Publish a small notebook as ``member``'s server does (the gallery API, their storage token); its slug."""
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"id": "c1", "cell_type": "markdown", "metadata": {}, "source": f"# {title}\nThe desk's numbers."}]}
    answer = httpx.post(f"{lab.portal_url}/api/gallery/v1/publications", timeout=60,
                        headers={"Authorization": f"Bearer {mint_storage_token(lab, member)}"},
                        json={"notebook": notebook, "path": "desk.ipynb", "title": title, "summary": "", "tags": [],
                              "visibility": "lab", "strip_outputs": False, "new_version_of": None})
    assert answer.status_code in (200, 201, 202), answer.text
    slug: str = answer.json()["slug"]
    return slug


def audit_rows(page: Page, lab: Appliance, **filters: str) -> Any:
    page.goto(f"{lab.public_portal_url}/admin/audit?" + "&".join(f"{k}={v}" for k, v in filters.items()))
    return page.locator(".audit-table tbody tr")


def test_the_admin_imports_disables_drains_hides_and_finds_it_all_in_the_audit_log(
        lab: Appliance, page: Page, chromium: Browser, csp_violations: list[str], artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:4]
    ana, ben, cy = f"ana{tag}", f"ben{tag}", f"cy{tag}"

    def shot(where: Page, name: str) -> None:
        where.screenshot(path=str(artifacts / f"admin-acceptance-{name}.png"), full_page=True)

    sign_in_as_admin(page, lab, f"boss{tag}")
    # 1. three people from CSV, one row bad: previewed, then created with a password each, the bad row reported
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("or paste it here").fill(
        f"username,name,email,groups\n{ana},Ana Lima,ana@example.org,desk\n{ben},Ben Okafor,,desk\n"
        f"Not Valid {tag},Nobody,,\n")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("2 can be created, 1 cannot")
    expect(page.get_by_role("row", name=f"4 Not Valid {tag}")).to_contain_text("is not a valid username")
    page.get_by_label("A generated password each").check()
    shot(page, "1-import-preview")
    page.get_by_role("button", name="Create 2 people").click()
    expect(page.get_by_role("status")).to_contain_text("2 created, 1 not")
    passwords = {name: page.get_by_label(f"Password of {name}").input_value() for name in (ana, ben)}
    shot(page, "2-import-report")

    # placement fills the hub with the fewest members: two more on hub 2 make hub 1 the next one's
    with admin_api(lab, f"boss{tag}") as api:
        for filler in (f"fill1{tag}", f"fill2{tag}"):
            add_user(lab, filler)
            assert api.post(f"/people/{filler}/move", json={"hub": "2"}).status_code == 200

    # 2. Ana works in JupyterLab (hub 1); the admin disables her: her server stops, her open page signs out
    ana_page = new_member_page(chromium, lab, ana, passwords[ana], "/research", lands_on="")
    expect(ana_page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=120_000)
    expect(ana_page.locator("#research-message")).to_contain_text("hub 1")
    shot(ana_page, "3-member-jupyterlab")
    page.goto(f"{lab.public_portal_url}/admin/people/{ana}")
    expect(page.locator(".state")).to_contain_text("running")
    shot(page, "4-person-running")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    expect(ana_page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=20_000)  # her page, by itself
    shot(ana_page, "5-member-signed-out")
    for _ in range(60):  # the hub stops the server: the person page says so once it has
        page.reload()
        if "stopped" in page.locator(".state").inner_text():
            break
        page.wait_for_timeout(500)
    expect(page.locator(".state")).to_contain_text("stopped")
    shot(page, "6-person-disabled")

    # 3. drain hub 1 on the Hubs page; Ben signs in and lands on hub 2, which the page shows without a reload
    try:
        page.goto(f"{lab.public_portal_url}/admin/hubs")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates
        expect(hub_members(page, "2")).to_have_text("2")
        hub_row(page, "1").get_by_role("button", name="Drain hub 1: no new members").click()
        expect(hub_row(page, "1").locator(".state")).to_have_text("draining", timeout=5000)
        ben_page = new_member_page(chromium, lab, ben, passwords[ben], "/research", lands_on="")
        expect(ben_page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=120_000)
        expect(ben_page.locator("#research-message")).to_contain_text("hub 2")
        expect(hub_members(page, "2")).to_have_text("3", timeout=10_000)
        assert page.evaluate("window.sameDocument") is True
        shot(page, "7-hubs-drained")
    finally:
        assert lab.cli("hubs", "undrain", "1").returncode == 0

    # 4. Cy reports Ben's publication; the admin hides it from the reports: gone for Cy, Ben sees why
    slug = publish(lab, ben, f"Desk numbers {tag}")
    cy_page = new_member_page(chromium, lab, cy, add_user(lab, cy), "/gallery")
    cy_page.get_by_role("link", name=f"Desk numbers {tag}").click()
    cy_page.get_by_text("Report to the administrators").click()
    cy_page.get_by_label("Private or sensitive data (credentials, personal data)").check()
    cy_page.get_by_label("Anything the administrators should know (optional)").fill("Live positions in cell 1.")
    cy_page.get_by_role("button", name="Send report").click()
    expect(cy_page.get_by_text("Thank you: your report was sent to the administrators.")).to_be_visible()
    page.goto(f"{lab.public_portal_url}/admin/gallery")
    page.get_by_role("link", name="Reports").click()
    report = page.locator("tr", has=page.get_by_role("link", name=f"Desk numbers {tag}"))
    expect(report).to_contain_text("Live positions in cell 1.")
    expect(report).to_contain_text(cy)
    shot(page, "8-gallery-reports")
    report.get_by_text("Hide publication…").click()
    report.get_by_label(f"Reason, shown to {ben}").fill("It shows the desk's unpublished positions")
    report.get_by_role("button", name="Hide", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Hidden")
    expect(page.get_by_role("link", name=f"Desk numbers {tag}")).to_have_count(0)  # resolved: off the open list
    page.goto(f"{lab.public_portal_url}/admin/gallery?q={tag}")
    expect(page.locator(f"#p-{slug} .badge").first).to_have_text("hidden")
    shot(page, "9-gallery-hidden")
    cy_page.goto(f"{lab.public_portal_url}/gallery")
    expect(cy_page.get_by_role("link", name=f"Desk numbers {tag}")).to_have_count(0)
    ben_page.goto(f"{lab.public_portal_url}/gallery/mine")
    expect(ben_page.get_by_text("An administrator hid this publication: It shows the desk's unpublished "
                                "positions")).to_be_visible()
    shot(ben_page, "10-author-sees-why")

    # 5. each action is in the audit log, with who did it
    for filters, expected in (({"action": "person.created", "actor": f"boss{tag}"}, [ben, ana]),
                              ({"action": "person.disabled", "target": ana}, [ana]),
                              ({"action": "hub.drained"}, ["hub 1"]),
                              ({"action": "gallery.hidden", "target": slug}, [slug])):
        rows = audit_rows(page, lab, **filters)
        expect(rows.first).to_be_visible()
        targets = [rows.nth(i).locator("td").nth(3).inner_text() for i in range(rows.count())]
        assert targets[:len(expected)] == expected, (filters, targets)
        expect(rows.first.locator("td").nth(1)).to_contain_text(f"boss{tag}")
    shot(page, "11-audit")
    assert csp_violations == []


def test_an_admin_creates_imports_finds_and_disables_people(lab: Appliance, page: Page,
                                                           chromium: Browser, csp_violations: list[str],
                                                           artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:5]
    sign_in_as_admin(page, lab, f"chief{tag}")
    expect(page.get_by_role("link", name="People", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    page.screenshot(path=str(artifacts / "admin-people.png"), full_page=True)

    page.get_by_role("link", name="New person").click()
    page.get_by_label("Username").fill(f"newt{tag}")
    page.get_by_label("Name", exact=True).fill("Newt Scamander")
    page.get_by_label("A one-time sign-up link: they choose their password").check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=f"newt{tag} was created")).to_be_visible()
    link = page.get_by_label("Sign-up link").input_value()
    page.screenshot(path=str(artifacts / "admin-person-created.png"), full_page=True)

    newcomer = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Welcome, Newt Scamander")).to_be_visible()
    newcomer.screenshot(path=str(artifacts / "welcome.png"), full_page=True)
    newcomer.get_by_label("Password", exact=True).fill("newt-password-1")
    newcomer.get_by_label("Password, again").fill("newt-password-1")
    newcomer.get_by_role("button", name="Set my password").click()
    newcomer.get_by_label("Username").fill(f"newt{tag}")
    newcomer.get_by_label("Password").fill("newt-password-1")
    newcomer.get_by_role("button", name="Sign in").click()
    expect(newcomer.get_by_text(f"newt{tag}", exact=True)).to_be_visible()
    newcomer.context.close()

    page.goto(f"{lab.public_portal_url}/admin/people/import")
    page.get_by_label("or paste it here").fill(
        f"username,name,email,groups\nimp1{tag},Imp One,imp1@example.org,physics\n"
        f"Bad Name {tag},Imp Two,,\nimp3{tag},Imp Three,,physics;optics\n")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("2 can be created, 1 cannot")
    expect(page.get_by_role("row", name=f"3 Bad Name {tag}")).to_contain_text("is not a valid username")
    page.screenshot(path=str(artifacts / "admin-import-preview.png"), full_page=True)
    page.get_by_role("button", name="Create 2 people").click()
    expect(page.get_by_role("status")).to_contain_text("2 created, 1 not")
    page.screenshot(path=str(artifacts / "admin-import-report.png"), full_page=True)

    page.goto(f"{lab.public_portal_url}/admin/people")
    page.get_by_label("Search people").fill(f"imp3{tag}")
    page.get_by_label("Search people").press("Enter")
    expect(page.locator("table.admin-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"imp3{tag}").click()
    expect(page.get_by_role("heading", name="Server")).to_be_visible()
    expect(page.locator(".state")).to_contain_text("stopped")
    page.screenshot(path=str(artifacts / "admin-person.png"), full_page=True)
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    expect(page.get_by_role("button", name="Enable")).to_be_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (("/admin/people", "admin-people-390.png"), (f"/admin/people/imp3{tag}", "admin-person-390.png")):
        page.goto(f"{lab.public_portal_url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a 390 px screen"
        page.screenshot(path=str(artifacts / name), full_page=True)
    assert csp_violations == []


def test_the_hubs_page_updates_live_and_draws_the_chart(lab: Appliance, page: Page, csp_violations: list[str],
                                                         artifacts: Path) -> None:
    sign_in_as_admin(page, lab, "hubadmin", "/admin/hubs")
    expect(page.get_by_role("link", name="Hubs")).to_have_attribute("aria-current", "page")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates
    for hub_id in ("1", "2"):
        expect(hub_row(page, hub_id).locator(".state")).to_have_text("routable")
        expect(hub_row(page, hub_id).locator(".process")).to_contain_text(f"· {__version__}")  # what it runs

    hub_row(page, "1").get_by_role("button", name="Drain hub 1: no new members").click()
    expect(hub_row(page, "1").locator(".state")).to_have_text("draining", timeout=5000)
    expect(page.locator("#hubs-status")).to_contain_text("Hub 1: draining")
    undrained = lab.cli("hubs", "undrain", "1")  # changed elsewhere: the page shows it by itself
    assert undrained.returncode == 0, undrained.stderr
    expect(hub_row(page, "1").locator(".state")).to_have_text("routable", timeout=6000)
    expect(hub_row(page, "1").get_by_role("button", name="Drain hub 1: no new members")).to_be_visible()
    expect(hub_row(page, "1").locator(".process")).to_contain_text(f"· {__version__}")  # redrawn live, still there

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


def test_the_audit_page_shows_filters_searches_and_exports_the_log(lab: Appliance, page: Page,
                                                                    csp_violations: list[str],
                                                                    artifacts: Path) -> None:
    member = f"ada{uuid.uuid4().hex[:4]}"
    member_password = add_user(lab, member, "--name", "Ada Lovelace")
    browser = HttpBrowser(lab)
    try:
        assert browser.sign_in(member, "a wrong password").status_code == 401
        assert browser.sign_in(member, member_password).status_code == 303
    finally:
        browser.http.close()
    register_client(lab, "grafana", "https://grafana.lab.example.org/login/generic_oauth")
    assert lab.cli("clients", "rotate-secret", "grafana").returncode == 0

    sign_in_as_admin(page, lab, "auditor", "/admin/audit")
    expect(page.get_by_role("link", name="Audit", exact=True)).to_have_attribute("aria-current", "page")
    rows = page.locator(".audit-table tbody tr")
    expect(page.locator(".audit-table")).to_contain_text("oauth-client.secret-rotated")
    expect(page.locator(".audit-table")).to_contain_text(member)
    page.screenshot(path=str(artifacts / "admin-audit.png"), full_page=True)

    page.get_by_label("Who").fill(member)  # from the keyboard: type, then Enter submits the filters
    page.get_by_label("Who").press("Enter")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("sign-in")
    expect(rows.nth(1)).to_contain_text("sign-in.failed")
    expect(rows.nth(1)).to_contain_text("127.0.0.1")
    page.screenshot(path=str(artifacts / "admin-audit-filtered.png"), full_page=True)

    page.get_by_label("Who").fill("")
    page.get_by_label("Search").fill("grafana")
    page.get_by_label("Action").fill("oauth-client")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [row[2] for row in exported[1:]] == ["oauth-client.secret-rotated", "oauth-client.added"]
    assert download_info.value.suggested_filename.startswith("audit-")

    page.get_by_label("Since").fill("next week")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("since = 'next week'")
    assert csp_violations == []
