"""The gallery's pages in Chromium on a running appliance, with notebooks published through the real publish
API and rendered by the real renderer: the cards, search with its highlights, the tag filter, a publication
with its render, versions and diff, the thread, clone, My publications, unpublish and its 410, the empty
states. Every step is a screenshot in artifacts/ (gallery-*.png), and no page breaks the portal's policy."""

from __future__ import annotations

import base64
import io
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.signing import sign_in
from tests.harness import Appliance, mint_storage_token
from tests.integration.oauth import add_user

RENDER_TIMEOUT_S = 120


def chart_png(seed: int, width: int = 720, height: int = 420) -> str:
    """A line chart as matplotlib would draw it (axes, grid, two series), base64."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 60, width - 20, 20, height - 40
    for step in range(6):
        y = top + step * (bottom - top) / 5
        draw.line([(left, y), (right, y)], fill=(230, 230, 230))
    draw.line([(left, bottom), (right, bottom)], fill="black", width=2)
    draw.line([(left, top), (left, bottom)], fill="black", width=2)
    for colour, drift in (((31, 119, 180), 0.9), ((255, 127, 14), 0.3)):
        level, points = 0.0, []
        for x in range(left, right, 6):
            level += rng.gauss(drift * 0.05, 0.6)
            points.append((x, (top + bottom) / 2 - level * 6 + 10 * math.sin(x / 40)))
        draw.line(points, fill=colour, width=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def study(title: str, seed: int, extra: str = "") -> dict[str, Any]:
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": "intro", "metadata": {},
         "source": f"# {title}\n\nWe regress next-month returns on the trailing signal: "
                   "$r_{t+1} = \\alpha + \\beta s_t + \\epsilon_t$. Winsorised at 1%, monthly rebalancing."},
        {"cell_type": "code", "id": "load", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": "import pandas as pd\nprices = pd.read_parquet('prices.parquet')\nreturns = prices.pct_change()"},
        {"cell_type": "code", "id": "plot", "execution_count": 2, "metadata": {"appliance": {"showcase": True}},
         "source": "ax = cumulative.plot(figsize=(9, 5))\nax.set_title('Cumulative return, long-short')" + extra,
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": chart_png(seed), "text/plain": "<Figure size 900x500 with 1 Axes>"}}]},
        {"cell_type": "markdown", "id": "end", "metadata": {},
         "source": "The spread is persistent after costs; turnover is the open question."},
    ]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def publish(appliance: Appliance, token: str, notebook: dict[str, Any], title: str, summary: str,
            tags: list[str], visibility: str = "lab", new_version_of: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{appliance.portal_url}/api/gallery/v1/publications", headers=headers, timeout=60, json={
        "notebook": notebook, "path": f"research/{title}.ipynb", "title": title, "summary": summary, "tags": tags,
        "visibility": visibility, "strip_outputs": False, "new_version_of": new_version_of})
    assert answer.status_code == 201, answer.text
    slug: str = answer.json()["slug"]
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while time.monotonic() < deadline:
        state = httpx.get(f"{appliance.portal_url}/api/gallery/v1/publications/{slug}", headers=headers).json()
        if state["state"] in ("done", "failed"):
            assert state["state"] == "done", state
            return slug
        time.sleep(0.2)
    pytest.fail(f"{title} was not rendered within {RENDER_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def gallery(running_appliance: Appliance) -> Iterator[dict[str, Any]]:
    """ada (group quant) publishes four notebooks, one of them twice; bob and cy read them."""
    passwords = {name: add_user(running_appliance, name, *args)
                 for name, args in (("ada", ("--group", "quant")), ("bob", ()), ("cy", ("--group", "quant")))}
    token = mint_storage_token(running_appliance, "ada")
    slugs = {
        "momentum": publish(running_appliance, token, study("Momentum in small caps", 1), "Momentum in small caps",
                            "Twelve-minus-one momentum on the smallest quintile, 1990–2025, with costs.",
                            ["momentum", "equities", "factors"]),
        "carry": publish(running_appliance, token, study("Carry across G10 currencies", 2),
                         "Carry across G10 currencies", "Sorting G10 pairs on the forward discount.",
                         ["fx", "carry", "factors"]),
        "vol": publish(running_appliance, token, study("Volatility targeting", 3), "Volatility targeting",
                       "Scaling exposure to a 10% target with a 60-day EWMA.", ["risk", "equities"]),
        "notes": publish(running_appliance, token, {
            "cells": [{"cell_type": "markdown", "id": "m", "metadata": {},
                       "source": "## Reading list: the factor zoo\n\nWhich of the **300 published factors** survive "
                                 "out of sample?\n\n| paper | factors | survive |\n|---|---|---|\n"
                                 "| Harvey, Liu, Zhu (2016) | 316 | few |\n| Hou, Xue, Zhang (2020) | 452 | 35% |"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
            "Reading list: the factor zoo", "Papers to read before adding a factor.", ["factors", "reading"]),
        "quant": publish(running_appliance, token, study("Desk-only: order book imbalance", 4),
                         "Desk-only: order book imbalance", "For the quant group.", ["microstructure"],
                         visibility="group:quant"),
    }
    publish(running_appliance, token, study("Momentum in small caps", 5, "\nax.axhline(0, color='grey')"),
            "Momentum in small caps", "Twelve-minus-one momentum on the smallest quintile, 1990–2025, with costs.",
            ["momentum", "equities", "factors"], new_version_of=slugs["momentum"])
    yield {"passwords": passwords, "slugs": slugs}


def test_an_empty_gallery_says_how_to_publish(running_appliance: Appliance, page: Page, artifacts: Path) -> None:
    """First in the module: nothing is published yet."""
    sign_in(page, running_appliance, "dee", add_user(running_appliance, "dee"), "/gallery")
    expect(page.get_by_role("heading", name="No publications yet")).to_be_visible()
    page.screenshot(path=str(artifacts / "gallery-empty.png"))
    page.goto(f"{running_appliance.public_portal_url}/gallery/mine")
    expect(page.get_by_role("heading", name="You have not published anything yet")).to_be_visible()
    page.screenshot(path=str(artifacts / "gallery-mine-empty.png"))


def test_a_member_finds_reads_discusses_and_clones(running_appliance: Appliance, gallery: dict[str, Any], page: Page,
                                                  artifacts: Path, csp_violations: list[str]) -> None:
    portal, slugs = running_appliance.public_portal_url, gallery["slugs"]
    sign_in(page, running_appliance, "bob", gallery["passwords"]["bob"], "/gallery")
    cards = page.locator(".pub-card")
    expect(cards).to_have_count(4)  # the group-only one is not bob's to see
    expect(page.locator(".pub-card img").first).to_be_visible()  # the showcase plot's thumbnail
    expect(page.locator(".preview-fragment table")).to_be_visible()  # a markdown-only notebook's preview
    page.wait_for_function("() => [...document.querySelectorAll('.pub-card img')].every("
                           "image => image.complete && image.naturalWidth > 0)", timeout=10_000)
    page.screenshot(path=str(artifacts / "gallery-index.png"), full_page=True)

    page.get_by_label("Search the gallery").fill("winsorised")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".snippet mark").first).to_have_text("Winsorised")
    page.screenshot(path=str(artifacts / "gallery-search.png"), full_page=True)
    page.get_by_label("Search the gallery").fill("order book imbalance")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Nothing matches")).to_be_visible()
    page.screenshot(path=str(artifacts / "gallery-nothing-matches.png"))

    page.goto(f"{portal}/gallery")
    page.locator(".tag-filter").get_by_role("link", name="fx").click()
    expect(cards).to_have_count(1)
    cards.first.get_by_role("link", name="Carry across G10 currencies").click()
    expect(page.get_by_role("heading", name="Carry across G10 currencies")).to_be_visible()

    page.goto(f"{portal}/gallery/p/{slugs['momentum']}")
    render = page.frame_locator("iframe.render-frame")
    expect(render.locator("body")).to_contain_text("Momentum in small caps", timeout=30_000)
    expect(page.locator("details.diff[open] summary")).to_contain_text("1 cell modified since version 1")
    expect(render.locator("body")).to_contain_text("turnover is the open question", timeout=30_000)
    page.screenshot(path=str(artifacts / "gallery-publication.png"))
    page.get_by_label("Add to the discussion").fill("Does this survive **2020**? <script>alert(1)</script>")
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator(".comment-body strong")).to_have_text("2020")
    expect(page.locator(".comment-body")).to_contain_text("<script>alert(1)</script>")
    page.screenshot(path=str(artifacts / "gallery-publication-discussion.png"), full_page=True)

    page.get_by_role("button", name="Clone into my research").click()
    page.wait_for_url(f"{portal}/research?open=*")
    assert page.url.endswith("/research?open=Momentum+in+small+caps.ipynb")
    assert csp_violations == []


def test_the_author_edits_and_unpublishes(running_appliance: Appliance, gallery: dict[str, Any], page: Page,
                                         chromium: Browser, artifacts: Path, csp_violations: list[str]) -> None:
    portal, slug = running_appliance.public_portal_url, gallery["slugs"]["vol"]
    sign_in(page, running_appliance, "ada", gallery["passwords"]["ada"], "/gallery/mine")
    expect(page.locator(".mine-item")).to_have_count(5)
    item = page.locator(f"#p-{slug}")
    item.get_by_text("Edit details").click()
    item.get_by_label("Title").fill("Volatility targeting, revisited")
    item.get_by_label("Tags").fill("risk, equities, volatility")
    page.screenshot(path=str(artifacts / "gallery-mine-editing.png"), full_page=True)
    item.get_by_role("button", name="Save changes").click()
    expect(page.locator(f"#p-{slug} h2")).to_have_text("Volatility targeting, revisited")
    page.screenshot(path=str(artifacts / "gallery-mine.png"), full_page=True)

    page.locator(f"#p-{slug}").get_by_role("link", name="Unpublish…").click()
    page.screenshot(path=str(artifacts / "gallery-unpublish-confirm.png"))
    page.get_by_role("button", name="Unpublish").click()
    expect(page.get_by_role("status").first).to_contain_text("was unpublished")
    reader = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(reader, running_appliance, "cy", gallery["passwords"]["cy"], "/gallery")
    expect(reader.locator(".pub-card")).to_have_count(4)  # cy is in quant: the desk-only one, not the unpublished
    answer = reader.goto(f"{portal}/gallery/p/{slug}/v/1")
    assert answer is not None and answer.status == 410
    expect(reader.get_by_role("heading", name="Unpublished")).to_be_visible()
    reader.screenshot(path=str(artifacts / "gallery-unpublished-410.png"))
    reader.context.close()
    assert csp_violations == []
