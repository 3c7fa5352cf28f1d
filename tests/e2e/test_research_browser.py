"""The Research page in a real browser: a member signs in, opens Research and lands in JupyterLab
inside the portal's frame, served by the hub discovery placed them on."""

from __future__ import annotations

import json
import re
import time
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests.e2e.signing import sign_in_new
from tests.harness import Appliance
from tests.integration.lab import hub_kept_down, server_hubs
from tests.integration.storage_client import StorageCaller, mint

ON_HUB = re.compile(r"on hub (\d+)")


def test_a_new_member_lands_in_jupyterlab_inside_the_research_page(running_lab: Appliance, page: Page,
                                                                  artifacts: Path, csp_violations: list[str]) -> None:
    sign_in_new(page, running_lab, "hedy", next_path="/research", lands_on="")
    page.wait_for_url(f"{running_lab.public_portal_url}/research")
    expect(page.get_by_role("status")).to_contain_text("hub 1")
    page.screenshot(path=str(artifacts / "research-starting.png"))
    jupyterlab = page.frame_locator("#lab")
    expect(jupyterlab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)  # JupyterLab has started
    expect(jupyterlab.locator("#jupyterlab-splash")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("JupyterLab on hub 1")
    page.screenshot(path=str(artifacts / "research-jupyterlab.png"))
    assert csp_violations == []  # the portal's policy lets the frame and research.js work


def test_a_second_member_is_placed_on_the_other_hub(running_lab: Appliance, chromium: Browser,
                                                   artifacts: Path) -> None:
    placed = []
    for name in ("ida", "kay"):
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        sign_in_new(page, running_lab, name, next_path="/research", lands_on="")
        expect(page.get_by_role("status")).to_have_text(ON_HUB)
        placed.append(ON_HUB.findall(page.get_by_role("status").inner_text())[0])
        if name == "kay":
            expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=90_000)
            page.screenshot(path=str(artifacts / "research-second-member.png"))
        context.close()
    assert sorted(placed) == ["1", "2"], placed


def test_a_path_that_is_not_a_file_name_is_refused_with_a_note(running_lab: Appliance, page: Page) -> None:
    sign_in_new(page, running_lab, "joan", next_path="/research?open=../../etc/passwd", lands_on="")
    expect(page.get_by_text("is not a path in your files")).to_be_visible()


def settled(page: Page, saves: list[str]) -> None:
    """JupyterLab has ended its routing: it waits for its first workspace save (a PUT), then the file
    browser opens a Launcher if the main area is still empty."""
    deadline = time.monotonic() + 30
    while not saves:
        assert time.monotonic() < deadline, "JupyterLab never saved its workspace"
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)


def test_jupyterlab_opens_one_launcher_at_once_an_opened_notebook_alone_and_no_build(
        running_lab: Appliance, chromium: Browser) -> None:
    notebook = {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Plot"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

    def first_visit(name: str, opened: str) -> None:
        StorageCaller(running_lab, mint(running_lab, name)).write("plot.ipynb", json.dumps(notebook).encode())
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        saves: list[str] = []
        page.on("requestfinished", lambda request: saves.append(request.url) if request.method == "PUT"
                and "/lab/api/workspaces/" in request.url else None)
        builds: list[str] = []  # JupyterLab's build check runs npm on the server: members' labs skip it
        page.on("request", lambda request: builds.append(request.url) if "/lab/api/build" in request.url else None)
        sign_in_new(page, running_lab, name, next_path="/research" + (f"?open={opened}" if opened else ""),
                    lands_on="")
        lab = page.frame_locator("#lab")
        if opened:  # the notebook, and no Launcher beside it
            expect(lab.locator(".jp-NotebookPanel")).to_be_visible(timeout=90_000)
            settled(page, saves)
            expect(lab.locator(".jp-Launcher")).to_have_count(0)
        else:  # shown before JupyterLab's own routing ends (launcher.ts), and not a second time after it
            expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
            assert saves == []
            settled(page, saves)
            expect(lab.locator(".jp-Launcher")).to_have_count(1)
        expect(lab.locator("#jp-main-dock-panel .lm-TabBar-tab")).to_have_count(1)
        assert builds == []
        context.close()

    first_visit("lena", "")
    first_visit("mona", "plot.ipynb")


def test_jupyterlabs_download_gives_the_stored_file(running_lab: Appliance, page: Page) -> None:
    sign_in_new(page, running_lab, "rosa", next_path="/research", lands_on="")
    lab = page.frame_locator("#lab")
    expect(lab.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    data = bytes(range(256)) + b"results\n"
    assert StorageCaller(running_lab, mint(running_lab, "rosa")).write("results.bin", data).status_code in (200, 201)
    lab.locator("[data-command='filebrowser:refresh']").click()
    lab.locator(".jp-DirListing-item[title*='results.bin']").click(button="right")
    with page.expect_download() as download:  # the file browser's own Download, as a member uses it
        lab.locator(".lm-Menu-item[data-command='filebrowser:download']").click()
    assert download.value.suggested_filename == "results.bin"
    assert Path(download.value.path()).read_bytes() == data


def test_a_notebook_run_and_saved_survives_the_death_of_the_members_hub(running_lab: Appliance, page: Page,
                                                                         artifacts: Path) -> None:
    sign_in_new(page, running_lab, "lise", next_path="/research", lands_on="")
    expect(page.get_by_role("status")).to_have_text(ON_HUB)
    hub_id = ON_HUB.findall(page.get_by_role("status").inner_text())[0]
    lab = page.frame_locator("#lab")
    lab.locator(".jp-LauncherCard[title='Python 3 (ipykernel)']").first.click(timeout=90_000)
    expect(lab.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)  # the kernel is up
    cell = lab.locator(".jp-Cell .cm-content").first
    cell.click()
    cell.type("1+1")
    cell.press("Shift+Enter")
    expect(lab.locator(".jp-OutputArea-output").first).to_have_text("2", timeout=60_000)
    lab.locator(".jp-NotebookPanel-toolbar [data-command='docmanager:save']").click()
    lab.get_by_role("textbox", name="File name").fill("first-steps.ipynb")  # asked at the first save
    lab.get_by_role("button", name="Rename and Save").click()
    expect(lab.locator(".jp-DirListing-item[title*='first-steps.ipynb']")).to_be_visible()
    page.screenshot(path=str(artifacts / "research-notebook-saved.png"))
    storage = StorageCaller(running_lab, mint(running_lab, "lise"))

    def saved_result() -> object:
        stored = storage.read("first-steps.ipynb")
        cells = json.loads(stored.content)["cells"] if stored.status_code == 200 else []
        return cells and cells[0]["outputs"] and cells[0]["outputs"][0]["data"]["text/plain"]

    deadline = time.monotonic() + 15
    while saved_result() != ["2"]:  # the run and its output are in PostgreSQL
        assert time.monotonic() < deadline, storage.read("first-steps.ipynb").text
        time.sleep(0.2)

    sealed = stored_bytes(running_lab, "lise", "first-steps.ipynb")
    assert b"1+1" not in sealed and b"cells" not in sealed  # encrypted (and not merely compressed)
    with pytest.raises(zlib.error):
        zlib.decompress(sealed)

    other = "2" if hub_id == "1" else "1"
    with hub_kept_down(running_lab, hub_id):
        # the member's server outlives its hub: the open JupyterLab keeps working meanwhile
        cell = lab.locator(".jp-Cell .cm-content").last
        cell.click()
        cell.type("2+2")
        cell.press("Shift+Enter")
        expect(lab.locator(".jp-OutputArea-output").nth(1)).to_have_text("4", timeout=60_000)
        # the hub stays down past dead_after: the page moves the member to the other hub
        expect(page.get_by_role("status")).to_contain_text(f"on hub {other}", timeout=40_000)
        page.screenshot(path=str(artifacts / "research-moving.png"))
        expect(page.get_by_role("status")).to_have_text(
            f"JupyterLab on hub {other} (moved here from hub {hub_id}, which stopped answering; everything you "
            "saved is here)", timeout=60_000)
    lab = page.frame_locator("#lab")
    lab.locator(".jp-DirListing-item[title*='first-steps.ipynb']").dblclick(timeout=90_000)
    expect(lab.locator(".jp-OutputArea-output").first).to_have_text("2", timeout=30_000)
    page.screenshot(path=str(artifacts / "research-after-hub-killed.png"))
    expect(lab.get_by_text("notified about official Jupyter news")).to_have_count(0)  # no prompt in the frame
    # once the killed hub is back it stops the member's old server there: one server per member
    running_lab.wait_healthy()
    deadline = time.monotonic() + 30
    while server_hubs("lise") != [other]:
        assert time.monotonic() < deadline, server_hubs("lise")
        time.sleep(0.3)


def stored_bytes(appliance: Appliance, username: str, path: str) -> bytes:
    """A file's bytes as PostgreSQL holds them."""
    engine = create_engine(appliance.database_url())
    with engine.connect() as connection:
        content: bytes = connection.execute(text(
            "SELECT b.content FROM storage.files f JOIN storage.blobs b ON b.id = f.blob_id "
            "JOIN storage.namespaces n ON n.id = f.namespace_id WHERE n.username = :u AND f.path = :p"),
            {"u": username, "p": path}).scalar_one()
    engine.dispose()
    return content
