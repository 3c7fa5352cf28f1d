"""The gallery's whole loop in Chromium, as two members live it, and a hostile notebook viewed by one.

Ada marks a plot cell as her showcase and publishes from JupyterLab's toolbar; Bob finds it by a word of
its markdown and by its tag, sees the plot on the card, opens it, clones it, lands in JupyterLab with the
clone open and runs it; Ada publishes version 2 (its page shows what changed); Bob's clone stays version
1; the card shows version 2 and one clone; Ada unpublishes; the permalink answers 410 and Bob's clone
still runs. A group-only publication stays invisible to Carol, outside the group. Screenshots of every
step in artifacts/."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, FrameLocator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.hostile_notebook import MARKER, hostile_notebook
from tests.e2e.listener import Listener
from tests.e2e.signing import new_member_page
from tests.harness import Appliance, mint_storage_token
from tests.integration.conftest import running
from tests.integration.oauth import add_user
from tests.integration.storage_client import StorageCaller

WORD = "heteroskedastic"  # in a markdown cell only: search finds it there
PLOT = ("from PIL import Image, ImageDraw\nimport io\nfrom IPython.display import Image as Show\n"
        "img = Image.new('RGB', (360, 220), 'white')\ndraw = ImageDraw.Draw(img)\n"
        "draw.line([(20, 200), (20, 10)], fill='black', width=2)\n"
        "draw.line([(20, 200), (350, 200)], fill='black', width=2)\n"
        "draw.line([(20, 180), (100, 120), (180, 150), (260, 40), (350, 70)], fill=(31, 119, 180), width=4)\n"
        "buffer = io.BytesIO(); img.save(buffer, 'PNG')\nShow(buffer.getvalue())")


def notebook(markdown: str) -> dict[str, Any]:
    return {"cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": markdown},
        {"cell_type": "code", "id": "plot", "metadata": {}, "execution_count": None, "outputs": [], "source": PLOT},
    ], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}


VERSION_1 = f"# Volatility clusters\n\nDaily returns look {WORD}: calm weeks, then storms."
VERSION_2 = VERSION_1 + "\n\nAdded in version 2: the storms cluster around earnings."


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(scope="module")
def members(lab: Appliance) -> dict[str, str]:
    """Ada and Bob are in the group "quant"; Carol is not; Mallory publishes the hostile notebook."""
    return {"ada": add_user(lab, "ada", "--group", "quant"), "bob": add_user(lab, "bob", "--group", "quant"),
            "carol": add_user(lab, "carol"), "mallory": add_user(lab, "mallory")}


def jupyterlab(page: Page, lab: Appliance, path: str = "") -> FrameLocator:
    page.goto(f"{lab.public_portal_url}/research" + (f"?open={path}" if path else ""))
    frame = page.frame_locator("#lab")
    expect(frame.locator(".jp-NotebookPanel, .jp-Launcher").first).to_be_visible(timeout=120_000)
    return frame


def open_from_file_browser(frame: FrameLocator, path: str) -> None:
    frame.locator("[data-command='filebrowser:refresh']").click()
    frame.locator(f".jp-DirListing-item[title*='{path}']").dblclick()
    expect(frame.locator(".jp-NotebookPanel:visible .jp-Cell")).to_have_count(2, timeout=30_000)


def run_all(page: Page, frame: FrameLocator) -> None:
    # JupyterLab asks which kernel when a notebook opens as its session is still being made: say Python 3
    idle = frame.locator(".jp-StatusBar-Widget", has_text="| Idle")
    asking = frame.locator(".jp-Dialog", has_text="Select Kernel")
    expect(idle.or_(asking).first).to_be_visible(timeout=60_000)
    if asking.count():
        asking.get_by_role("button", name="Select").click()
    expect(idle).to_be_visible(timeout=60_000)
    frame.locator(".lm-MenuBar-item", has_text="Run").click()
    frame.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    expect(frame.locator(".jp-NotebookPanel:visible .jp-OutputArea-output img")).to_be_visible(timeout=120_000)


def publish(page: Page, frame: FrameLocator, title: str, tags: str, version_of: str = "") -> str:
    """Publish the open notebook from its toolbar (as a new version of the publication ``version_of``, a
    slug, which the dialog offers first for a notebook already published); returns the page's URL."""
    frame.locator(".jp-NotebookPanel:visible .jp-NotebookPanel-toolbar "
                  "[data-command='appliance-gallery:publish']").click()
    dialog = frame.locator(".jp-Dialog")
    expect(dialog.locator("select[name='new_version_of']")).to_have_value(version_of)
    dialog.locator("input[name='title']").fill(title)
    dialog.locator("input[name='tags']").fill(tags)
    dialog.get_by_role("button", name="Publish").click()
    expect(frame.locator(".jp-appliance-gallery-progress [role='status']")).to_have_text(
        "Published and rendered.", timeout=120_000)
    href = frame.locator(".jp-appliance-gallery-progress a").get_attribute("href") or ""
    frame.locator(".jp-Dialog").get_by_role("button", name="Close").click()
    return href


def card(page: Page, title: str) -> Any:
    return page.locator("article.pub-card", has=page.get_by_role("link", name=title, exact=True))


def stored_notebook(lab: Appliance, name: str, path: str) -> dict[str, Any]:
    stored = StorageCaller(lab, mint_storage_token(lab, name)).read(path)
    assert stored.status_code == 200, stored.text
    result: dict[str, Any] = json.loads(stored.content)
    return result


def test_publish_find_clone_version_and_unpublish(lab: Appliance, members: dict[str, str], chromium: Browser,
                                                  artifacts: Path) -> None:
    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(artifacts / f"gallery-loop-{name}.png"), full_page=True)

    ada, bob = (new_member_page(chromium, lab, name, members[name]) for name in ("ada", "bob"))
    ada_files = StorageCaller(lab, mint_storage_token(lab, "ada"))
    assert ada_files.write("volatility.ipynb", json.dumps(notebook(VERSION_1)).encode()).status_code in (200, 201)

    # Ada: run it, mark the plot cell as the showcase in its toolbar, publish from the notebook's toolbar
    frame = jupyterlab(ada, lab)
    open_from_file_browser(frame, "volatility.ipynb")
    run_all(ada, frame)
    plot_cell = frame.locator(".jp-NotebookPanel:visible .jp-Cell").nth(1)
    plot_cell.click()
    frame.locator(".jp-cell-toolbar [data-command='appliance-gallery:toggle-showcase']").click()
    expect(plot_cell).to_have_class(re.compile(r"\bjp-appliance-showcase\b"))
    shot(ada, "1-showcase")
    url = publish(ada, frame, "Volatility clusters", "volatility, risk")
    shot(ada, "2-published")
    slug = urlsplit(url).path.split("/")[3]

    # Bob finds it by a word of its markdown, and by its tag; the card shows the plot
    bob.goto(f"{lab.public_portal_url}/gallery")
    bob.locator("#gallery-q").fill(WORD)
    bob.get_by_role("button", name="Search").click()
    found = card(bob, "Volatility clusters")
    expect(found).to_be_visible()
    expect(found.locator("mark").first).to_have_text(re.compile(WORD, re.I))  # the snippet shows the word
    shot(bob, "3-search")
    bob.goto(f"{lab.public_portal_url}/gallery?tag=volatility")
    found = card(bob, "Volatility clusters")
    expect(found).to_be_visible()
    thumbnail = found.locator(".pub-preview img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")  # the plot, as a PNG thumbnail
    shot(bob, "4-tag")

    # Bob opens the full view and clones it; JupyterLab opens with the clone, and it runs
    found.get_by_role("link", name="Volatility clusters").click()
    bob.wait_for_url(re.compile(rf"/gallery/p/{slug}"))
    render = bob.frame_locator("iframe.render-frame")
    expect(render.get_by_text(WORD).first).to_be_visible(timeout=30_000)
    expect(render.locator(".jp-OutputArea-output img").first).to_be_visible()
    shot(bob, "5-publication")
    bob.get_by_role("button", name="Clone into my research").click()
    bob.wait_for_url(re.compile(r"/research\?open="))
    clone_path = parse_qs(urlsplit(bob.url).query)["open"][0]
    assert clone_path.endswith(".ipynb"), clone_path
    bob_lab = bob.frame_locator("#lab")
    expect(bob_lab.locator(".jp-NotebookPanel:visible .jp-Cell")).to_have_count(2, timeout=120_000)
    run_all(bob, bob_lab)
    shot(bob, "6-clone-ran")
    cloned = stored_notebook(lab, "bob", clone_path)
    assert cloned["metadata"]["appliance"]["cloned_from"]["publication"] == slug
    assert cloned["metadata"]["appliance"]["cloned_from"]["version"] == 1

    # Ada publishes version 2 of it; its page shows what changed
    assert ada_files.write("volatility.ipynb", json.dumps(notebook(VERSION_2)).encode()).status_code in (200, 201)
    frame.locator(".lm-MenuBar-item", has_text="File").click()
    frame.locator(".lm-Menu-item[data-command='docmanager:reload']").click()
    if frame.locator(".jp-Dialog").count():  # JupyterLab asks before discarding what is open
        frame.locator(".jp-Dialog").get_by_role("button", name=re.compile("Reload|Discard")).click()
    expect(frame.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown", has_text="Added in version 2")
           ).to_be_visible(timeout=30_000)
    publish(ada, frame, "Volatility clusters", "volatility, risk", version_of=slug)
    ada.goto(f"{lab.public_portal_url}/gallery/p/{slug}")
    expect(ada.locator("details.diff").first).to_contain_text("Added in version 2")
    shot(ada, "7-version-2-diff")

    # Bob's clone is still version 1; the card shows version 2 and one clone
    cloned = stored_notebook(lab, "bob", clone_path)
    assert cloned["cells"][0]["source"] == VERSION_1
    assert cloned["metadata"]["appliance"]["cloned_from"]["version"] == 1
    bob.goto(f"{lab.public_portal_url}/gallery?q={WORD}")
    found = card(bob, "Volatility clusters")
    expect(found.locator(".pub-stats")).to_contain_text("1 clone")
    expect(found.locator(".pub-stats")).to_contain_text("version 2")
    shot(bob, "8-card-version-2")

    # Ada unpublishes; the permalink answers 410, and Bob's clone still runs
    ada.goto(f"{lab.public_portal_url}/gallery/mine")
    ada.locator(f"#p-{slug}").get_by_role("link", name=re.compile("Unpublish")).click()
    ada.get_by_role("button", name="Unpublish").click()
    shot(ada, "9-unpublished")
    gone = bob.goto(f"{lab.public_portal_url}/gallery/p/{slug}/v/1")
    assert gone is not None and gone.status == 410
    expect(bob.get_by_text(re.compile("unpublished", re.I)).first).to_be_visible()
    shot(bob, "10-gone")
    bob_lab = jupyterlab(bob, lab, clone_path)
    expect(bob_lab.locator(".jp-NotebookPanel:visible .jp-Cell")).to_have_count(2, timeout=60_000)
    run_all(bob, bob_lab)
    shot(bob, "11-clone-still-runs")
    for page in (ada, bob):
        page.context.close()


def test_a_group_publication_is_invisible_outside_the_group(lab: Appliance, members: dict[str, str],
                                                             chromium: Browser, artifacts: Path) -> None:
    answer = httpx.post(f"{lab.portal_url}/api/gallery/v1/publications",
                        headers={"Authorization": f"Bearer {mint_storage_token(lab, 'ada')}"},
                        json={"notebook": notebook("# Quant desk only\n\nInternal lattice model."),
                              "path": "desk.ipynb", "title": "Quant desk only", "summary": "for the group",
                              "tags": ["lattice"], "visibility": "group:quant", "strip_outputs": False,
                              "new_version_of": None}, timeout=60)
    assert answer.status_code == 201, answer.text
    slug = answer.json()["slug"]
    bob = new_member_page(chromium, lab, "bob", members["bob"])
    bob.goto(f"{lab.public_portal_url}/gallery?tag=lattice")
    expect(card(bob, "Quant desk only")).to_be_visible()
    carol = new_member_page(chromium, lab, "carol", members["carol"])
    for path in (f"/gallery/p/{slug}", f"/gallery/p/{slug}/v/1", f"/gallery/p/{slug}/v/1/notebook.ipynb"):
        response = carol.goto(f"{lab.public_portal_url}{path}")
        assert response is not None and response.status == 404, path
    for listing in ("/gallery", "/gallery?tag=lattice", "/gallery?q=lattice", "/gallery?q=quant+desk"):
        carol.goto(f"{lab.public_portal_url}{listing}")
        expect(card(carol, "Quant desk only")).to_have_count(0)
    carol.screenshot(path=str(artifacts / "gallery-group-outsider.png"), full_page=True)
    # a clone asked for with Carol's own CSRF token (taken from her sign-out form): not found either
    status = carol.evaluate("""slug => fetch(`/gallery/p/${slug}/clone`, {method: "POST", redirect: "manual",
        body: new URLSearchParams({csrf_token: document.querySelector("#sign-out-form [name=csrf_token]").value,
                                   version: "1"})}).then(answer => answer.status)""", slug)
    assert status == 404, status
    for page in (bob, carol):
        page.context.close()


def test_a_hostile_notebook_reaches_nothing(lab: Appliance, members: dict[str, str], chromium: Browser,
                                            artifacts: Path) -> None:
    listener = Listener()
    token = mint_storage_token(lab, "mallory")
    answer = httpx.post(f"{lab.portal_url}/api/gallery/v1/publications", headers={"Authorization": f"Bearer {token}"},
                        json={"notebook": hostile_notebook(listener.url, lab.public_portal_url),
                              "path": "totally-normal.ipynb", "title": "Totally normal <script>alert(1)</script>",
                              "summary": "<img src=x onerror=alert(1)>", "tags": ["hostile"], "visibility": "lab",
                              "strip_outputs": False, "new_version_of": None}, timeout=60)
    assert answer.status_code == 201, answer.text
    slug = answer.json()["slug"]
    _wait_rendered(lab, token, slug)

    bob = new_member_page(chromium, lab, "bob", members["bob"])
    ran: list[str] = []  # the attacks whose script ran (and logged so)

    def on_console(message: ConsoleMessage) -> None:
        if MARKER in message.text:
            ran.append(message.text.split(MARKER, 1)[1])

    bob.on("console", on_console)
    main_navigations: list[str] = []
    bob.on("framenavigated", lambda frame: main_navigations.append(frame.url) if frame == bob.main_frame else None)

    bob.goto(f"{lab.public_portal_url}/gallery?tag=hostile")  # the card: its preview runs nothing
    hostile_card = bob.locator("article.pub-card").first
    expect(hostile_card).to_contain_text("Totally normal <script>alert(1)</script>")  # the title, as text
    preview = hostile_card.locator(".pub-preview").inner_html()
    assert "<script" not in preview and "onerror" not in preview and "javascript:" not in preview
    bob.screenshot(path=str(artifacts / "gallery-hostile-card.png"), full_page=True)
    assert ran == []

    page_url = f"{lab.public_portal_url}/gallery/p/{slug}"
    bob.goto(page_url)
    render = bob.frame_locator("iframe.render-frame")
    # a viewer clicking the javascript: link, if the render is still there to click (its own script tries
    # to navigate the frame away after 300 ms, which the page's frame-src stops, leaving an error page)
    with contextlib.suppress(PlaywrightError):
        render.locator("#js-link").click(timeout=5_000)
    deadline = time.monotonic() + 30
    while not {"html-output", "javascript-output"} <= set(ran) and time.monotonic() < deadline:
        bob.wait_for_timeout(100)
    bob.wait_for_timeout(3000)  # the attacks' timers (300 ms) and their requests have had their chance
    bob.screenshot(path=str(artifacts / "gallery-hostile-publication.png"), full_page=True)

    assert listener.everything() == []  # nothing reached the attacker, by any channel
    assert {"html-output", "javascript-output"} <= set(ran), ran  # they ran, contained
    assert bob.url == page_url  # the top page never moved
    assert all(url == page_url for url in main_navigations[1:]), main_navigations
    # Bob's session still works, and the portal still knows him
    bob.goto(f"{lab.public_portal_url}/gallery/mine")
    expect(bob.get_by_role("heading", name=re.compile("My publications"))).to_be_visible()
    assert bob.evaluate("fetch('/api/discovery/v1/me').then(answer => answer.status)") == 200

    # Bob clones it: in his own JupyterLab (his origin, his kernel) the clone is an untrusted notebook,
    # whose script outputs never run
    bob.goto(page_url)
    bob.get_by_role("button", name="Clone into my research").click()
    bob.wait_for_url(re.compile(r"/research\?open="))
    ran.clear()
    bob_lab = bob.frame_locator("#lab")
    expect(bob_lab.locator(".jp-NotebookPanel:visible .jp-Cell")).to_have_count(5, timeout=120_000)
    expect(bob_lab.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown").first).to_contain_text(
        "Totally normal analysis")
    bob.wait_for_timeout(3000)
    bob.screenshot(path=str(artifacts / "gallery-hostile-clone.png"))
    assert ran == [] and listener.everything() == []
    assert bob.url.startswith(f"{lab.public_portal_url}/research")
    bob.context.close()
    listener.close()


def _wait_rendered(lab: Appliance, token: str, slug: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(f"{lab.portal_url}/api/gallery/v1/publications/{slug}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        if state["state"] == "done":
            return
        assert state["state"] != "failed", state
        time.sleep(0.2)
    raise AssertionError(f"{slug} was not rendered within {timeout} s")
