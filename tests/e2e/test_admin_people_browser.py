"""The console's People in Chromium, as an administrator uses it: the table and its search, a new person
with a one-time sign-up link (which they open and use), a CSV import with one bad row (previewed, then
reported), a person's page and disabling them; usable at 390 px; nothing breaks the portal's
Content-Security-Policy. Screenshots of every page in artifacts/."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.harness import Appliance
from tests.integration.oauth import add_user


def sign_in_as_admin(page: Page, appliance: Appliance, username: str) -> None:
    password = add_user(appliance, username, "--admin")
    page.goto(f"{appliance.public_portal_url}/admin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{appliance.public_portal_url}/admin/people")


def test_an_admin_creates_imports_finds_and_disables_people(running_appliance: Appliance, page: Page,
                                                           chromium: Browser, csp_violations: list[str],
                                                           artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:5]
    sign_in_as_admin(page, running_appliance, f"chief{tag}")
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

    page.goto(f"{running_appliance.public_portal_url}/admin/people/import")
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

    page.goto(f"{running_appliance.public_portal_url}/admin/people")
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
        page.goto(f"{running_appliance.public_portal_url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a 390 px screen"
        page.screenshot(path=str(artifacts / name), full_page=True)
    assert csp_violations == []
