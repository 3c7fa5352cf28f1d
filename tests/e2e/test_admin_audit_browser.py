"""The console's Audit page in Chromium: a member's failed and successful sign-ins and the command line's
changes are on it with who, what, when and from where; the filters, a search and the CSV export work from the
keyboard and the mouse; nothing breaks the portal's Content-Security-Policy. Screenshots in artifacts/."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_admin_hubs_browser import sign_in_as_admin
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.oauth import Browser, add_user, register_client


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=0)


def test_the_audit_page_shows_filters_searches_and_exports_the_log(lab: Appliance, page: Page,
                                                                    csp_violations: list[str],
                                                                    artifacts: Path) -> None:
    member = f"ada{uuid.uuid4().hex[:4]}"
    member_password = add_user(lab, member, "--name", "Ada Lovelace")
    browser = Browser(lab)
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
