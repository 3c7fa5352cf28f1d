"""The gallery in a member's JupyterLab, in Chromium, inside the portal's Research page: the showcase
toggle in the cell toolbar (one cell per notebook, marked, saved in the notebook's metadata), Publish to
gallery from the notebook toolbar (saving first), its progress and the link to the published page, which
opens in the top window; Publish in the File menu; the memory in the status bar (jupyter-resource-usage).
Screenshots of every step in artifacts/."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.signing import sign_in_new
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.storage_client import StorageCaller, mint

NOTEBOOK = {"cells": [{"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# Rates and *momentum*\n\nWhy."},
                      {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": "x = 41 + 1"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                        "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
MARKED = re.compile(r"\bjp-appliance-showcase\b")
SHOWCASE = "[data-command='appliance-gallery:toggle-showcase']"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


def open_notebook(page: Page, appliance: Appliance, name: str, path: str) -> tuple[FrameLocator, StorageCaller]:
    sign_in_new(page, appliance, name, next_path="/research", lands_on="")
    lab = page.frame_locator("#lab")
    expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    storage = StorageCaller(appliance, mint(appliance, name))
    assert storage.write(path, json.dumps(NOTEBOOK).encode()).status_code in (200, 201)
    lab.locator("[data-command='filebrowser:refresh']").click()
    lab.locator(f".jp-DirListing-item[title*='{path}']").dblclick()
    expect(lab.locator(".jp-Notebook .jp-Cell")).to_have_count(2, timeout=30_000)
    return lab, storage


def saved_cells(storage: StorageCaller, path: str) -> list[dict[str, object]]:
    stored = storage.read(path)
    assert stored.status_code == 200, stored.text
    cells: list[dict[str, object]] = json.loads(stored.content)["cells"]
    return cells


def test_a_member_marks_a_showcase_cell_and_publishes_from_the_toolbar(lab: Appliance, page: Page,
                                                                      artifacts: Path) -> None:
    name, path = f"g{secrets.token_hex(3)}", "rates.ipynb"
    frame, storage = open_notebook(page, lab, name, path)
    cells = frame.locator(".jp-Notebook .jp-Cell")
    expect(frame.locator(".jp-StatusBar-Widget", has_text="Mem:")).to_be_visible(timeout=30_000)  # resource usage

    cells.nth(1).click()  # the code cell: its toolbar shows the toggle
    frame.locator(f".jp-cell-toolbar {SHOWCASE}").click()
    expect(cells.nth(1)).to_have_class(MARKED)
    expect(cells.nth(1).locator(".jp-appliance-showcase-badge")).to_have_text("★ Showcase")
    page.screenshot(path=str(artifacts / "gallery-lab-showcase-code-cell.png"))
    cells.nth(0).click()  # another cell made the showcase: the first one is cleared
    frame.locator(f".jp-cell-toolbar {SHOWCASE}").click()
    expect(cells.nth(0)).to_have_class(MARKED)
    expect(frame.locator(".jp-appliance-showcase")).to_have_count(1)
    cells.nth(1).click()
    frame.locator(f".jp-cell-toolbar {SHOWCASE}").click()
    expect(frame.locator(".jp-appliance-showcase")).to_have_count(1)
    expect(cells.nth(1)).to_have_class(MARKED)
    assert "appliance" not in saved_cells(storage, path)[1]["metadata"]  # not saved yet: publishing saves

    assert lab.cli("users", "groups", name, "--add", "quants").returncode == 0
    toolbar_publish = frame.locator(".jp-NotebookPanel-toolbar [data-command='appliance-gallery:publish']")
    toolbar_publish.click()
    dialog = frame.locator(".jp-Dialog")
    status = frame.locator(".jp-appliance-gallery-progress [role='status']")
    dialog.locator("input[name='title']").fill(" ")  # the portal's refusal is shown as it said it
    dialog.get_by_role("button", name="Publish").click()
    expect(status).to_contain_text("Not published: ")
    expect(status).to_contain_text("title")
    page.screenshot(path=str(artifacts / "gallery-lab-publish-refused.png"))
    dialog.get_by_role("button", name="Close").click()

    toolbar_publish.click()
    expect(dialog.locator("input[name='title']")).to_have_value("Rates and momentum")  # the first heading
    dialog.locator("textarea[name='summary']").fill("Momentum in rates, one cell.")
    dialog.locator("input[name='tags']").fill("rates, momentum")
    expect(dialog.locator("select[name='visibility'] option")).to_have_text(
        ["Everyone in the lab", "Only the group quants", "Unlisted: only people with the link"])
    expect(dialog.locator("select[name='new_version_of'] option")).to_have_text(["A new publication"])
    page.screenshot(path=str(artifacts / "gallery-lab-publish-dialog.png"))
    dialog.get_by_role("button", name="Publish").click()

    link = frame.locator(".jp-appliance-gallery-progress a")
    expect(link).to_have_text("Open “Rates and momentum” (version 1) in the gallery", timeout=30_000)
    assert link.get_attribute("target") == "_top"
    href = link.get_attribute("href") or ""
    assert href.startswith(f"{lab.public_portal_url}/gallery/p/"), href
    expect(status).to_have_text("Published and rendered.", timeout=90_000)
    page.screenshot(path=str(artifacts / "gallery-lab-published.png"))
    saved = saved_cells(storage, path)  # saved before it was sent: the metadata the gallery got
    assert saved[1]["metadata"] == {"appliance": {"showcase": True}} and saved[0]["metadata"] == {}
    dialog.get_by_role("button", name="Close").click()

    frame.locator(".lm-MenuBar-item", has_text="File").first.click()  # a new version, from the File menu
    frame.locator(".lm-Menu-item[data-command='appliance-gallery:publish']").click()
    expect(dialog.locator("select[name='new_version_of'] option:checked")).to_have_text(
        "A new version of “Rates and momentum” (now version 1)")
    dialog.get_by_role("button", name="Publish").click()
    expect(link).to_have_text("Open “Rates and momentum” (version 2) in the gallery", timeout=30_000)
    assert link.get_attribute("href") == href
    expect(status).to_have_text("Published and rendered.", timeout=90_000)
    dialog.get_by_role("button", name="Close").click()
    cells.nth(0).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")  # the command palette has the gallery's commands too
    frame.locator(".lm-CommandPalette-input").fill("gallery")
    expect(frame.locator(".lm-CommandPalette-item[data-command='appliance-gallery:publish']")).to_be_visible()
    expect(frame.locator(".lm-CommandPalette-item[data-command='appliance-gallery:open-in-gallery']")).to_be_visible()
    page.keyboard.press("Escape")
    opened = frame.locator(".jp-NotebookPanel-toolbar a.jp-appliance-gallery-open")
    expect(opened).to_have_text("Open in gallery")
    page.screenshot(path=str(artifacts / "gallery-lab-open-in-gallery.png"))
    opened.click()  # out of the Research frame: the portal's page of the publication in the top window
    page.wait_for_url(href)
    expect(page.get_by_role("heading", name="Rates and momentum").first).to_be_visible()
    page.screenshot(path=str(artifacts / "gallery-lab-publication-page.png"))
