"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser).

- ``chromium``: a headless browser for the module.
- ``page``: a fresh browser context and page for one test (cookies isolated per test).
- ``csp_violations``: the console messages of ``page`` (any of its frames) about a Content Security Policy.
- ``running_lab``: two hubs; a hub whose restarts fail is tried again every 2 s at most.
- ``artifacts``: the folder screenshots are written to (``artifacts/`` at the top of the checkout).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.harness import Appliance
from tests.integration.conftest import appliance, running, running_appliance  # noqa: F401 - shared with e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


E2E = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives a browser: marked ``browser`` (tests/run runs them beside the rest)."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def running_lab() -> Iterator[Appliance]:
    """Two hubs; a hub whose restarts fail is tried again every 2 s at most (tests/integration/lab.hub_kept_down
    keeps one down for a while)."""
    yield from running(hubs=2, APPLIANCE_SUPERVISOR_BACKOFF_MAX_S="2")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if "Content Security Policy" in message.text
            else None)
    return found


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "artifacts"
    path.mkdir(exist_ok=True)
    return path
