"""axe-core in Chromium: no serious or critical violation on the portal's pages, at 1280 and 390 px wide.

axe-core is the one @axe-core/playwright injects (``installer/install.sh --dev`` installs
``@axe-core/playwright`` into the venv's node_modules); these tests inject its ``axe.min.js`` the same
way through Python's Playwright (CDP evaluation, which the portal's script policy does not apply to) and
run ``axe.run`` on the page itself: frames are other origins' (JupyterLab, a render), not the portal's.
The pages: sign-in, home (anonymous, member, admin), Research (with JupyterLab open), the gallery and
My publications, change password, the 404 page, the signed-out page, and the admin console's pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests.e2e.signing import sign_in_new
from tests.harness import Appliance
from tests.integration import gallery_data as data
from tests.integration.conftest import running

AXE = Path(__file__).resolve().parents[2] / ".venv" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)
BLOCKING = ("serious", "critical")
ADMIN_PAGES = ("/admin/people", "/admin/people/new", "/admin/people/import", "/admin/people/{admin}", "/admin/hubs",
               "/admin/gallery", "/admin/gallery/reports", "/admin/software", "/admin/system",
               "/admin/audit")  # every console page


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run installer/install.sh --dev --venv .venv (it installs @axe-core/playwright)")
    return AXE.read_text()


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(scope="module")
def publication(lab: Appliance) -> str:
    """A featured publication with an open report (so the gallery, its page and the console show them)."""
    engine = create_engine(lab.database_url())
    try:
        slug = data.publication(engine, author="someone", title="Momentum across sectors", tags=["returns"],
                                summary="A study of returns.", thumbnail=True)
        with engine.begin() as connection:
            connection.execute(text("UPDATE gallery.publications SET featured_at = now() WHERE slug = :s"), {"s": slug})
            connection.execute(text("INSERT INTO gallery.reports (publication_id, reporter, reason, detail) "
                                    "SELECT id, 'someone-else', 'broken', 'The plot is empty.' "
                                    "FROM gallery.publications WHERE slug = :s"), {"s": slug})
    finally:
        engine.dispose()
    return slug


def violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now, at both widths."""
    found: list[dict[str, Any]] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(axe_source)
        result = page.evaluate("axe.run(document, {iframes: false, resultTypes: ['violations']})")
        found += [{"width": width, "id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [node["target"] for node in v["nodes"]][:5]}
                  for v in result["violations"] if v["impact"] in BLOCKING]
    page.set_viewport_size({"width": 1280, "height": 800})
    return found


def check(page: Page, axe_source: str, url: str, status: int | None = None) -> None:
    response = page.goto(url)
    if status is not None:
        assert response is not None and response.status == status, url
    problems = violations(page, axe_source)
    assert problems == [], f"{url}:\n{json.dumps(problems, indent=1)}"


@pytest.mark.parametrize("path", ["/login", "/", "/no-such-page", "/research/signed-out"])
def test_signed_out_pages_have_no_serious_violation(lab: Appliance, page: Page, axe_source: str, path: str) -> None:
    check(page, axe_source, f"{lab.public_portal_url}{path}")


def test_a_members_pages_have_no_serious_violation(lab: Appliance, page: Page, axe_source: str,
                                                   publication: str) -> None:
    sign_in_new(page, lab, "ada-a11y")
    for path in ("/", "/gallery", "/gallery/mine", "/account/password", "/no-such-page", "/research/signed-out",
                 f"/gallery/p/{publication}"):
        check(page, axe_source, f"{lab.public_portal_url}{path}")
    page.get_by_text("Report to the administrators").click()  # the publication's report form, open
    assert violations(page, axe_source) == []


def test_the_research_page_has_no_serious_violation_while_starting_and_with_jupyterlab(
        lab: Appliance, page: Page, axe_source: str) -> None:
    sign_in_new(page, lab, "bea-a11y")
    page.goto(f"{lab.public_portal_url}/research")
    expect(page.locator("#spawn-progress")).to_be_visible()
    starting = violations(page, axe_source)
    expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=120_000)
    expect(page.get_by_role("button", name="Stop server")).to_be_visible()
    assert starting + violations(page, axe_source) == []


def test_the_admin_pages_have_no_serious_violation(lab: Appliance, chromium: Browser, axe_source: str,
                                                   publication: str) -> None:
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in_new(page, lab, "cleo-a11y", "--admin")
    check(page, axe_source, f"{lab.public_portal_url}/")
    for path in ADMIN_PAGES:
        check(page, axe_source, f"{lab.public_portal_url}{path.format(admin='cleo-a11y')}", status=200)
    page.context.close()
