"""A rendered notebook in Chromium: its LaTeX is typeset by MathJax 3 from the render host, whether the
page is opened directly or framed by the portal, and the browser asks nothing of any other host; its
script can open no popup and, framed, cannot navigate its frame away."""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook, new_output
from playwright.sync_api import Frame, Page

from tests.e2e.listener import Listener
from tests.harness import Appliance
from tests.integration.render_queue import connect, finished, notebook, queue, render_links

FRAME = """([url, sandbox]) => {  // as the publication page frames it
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', sandbox);
    frame.style.width = '1000px'; frame.style.height = '600px';
    frame.src = url;
    document.body.prepend(frame);
}"""

TYPESET = "document.querySelectorAll('mjx-container').length >= 2"
LOADED_FONTS = ("document.fonts.ready.then(() => [...document.fonts].filter(f => f.status === 'loaded')"
                ".map(f => f.family))")


def published(appliance: Appliance, content: dict[str, object] | None = None) -> str:
    with connect(appliance) as db:
        [(slug, _, job)] = queue(appliance, db, content or notebook())
        assert finished(appliance, db, job)[0] == "done"
    return render_links(appliance).url(slug, 1)


def record_requests(page: Page) -> tuple[list[str], list[str]]:
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda response: failed.append(f"{response.url}: {response.status}")
            if response.status >= 400 else None)
    return requested, failed


def assert_typeset(frame: Page | Frame) -> None:
    frame.wait_for_function(TYPESET, timeout=30_000)
    # CHTML draws each glyph with MathJax's web fonts (CSS content), so the math has size but no text
    assert frame.evaluate("document.querySelectorAll('mjx-container mjx-c').length") >= 10
    assert frame.evaluate("document.querySelector('mjx-container').getBoundingClientRect().width") > 20
    fonts = frame.evaluate(LOADED_FONTS)
    assert any(family.startswith("MJXTEX") for family in fonts), fonts  # MathJax's own fonts, loaded


def test_latex_is_typeset_from_the_render_host_alone_opened_directly(
        running_appliance: Appliance, page: Page, csp_violations: list[str], artifacts: Path) -> None:
    url = published(running_appliance)
    origin = render_links(running_appliance).origin
    requested, failed = record_requests(page)
    page.goto(url)
    assert_typeset(page)
    page.screenshot(path=artifacts / "gallery-render-direct.png", full_page=True)
    assert requested and all(u.startswith(origin + "/") or u.startswith("data:") for u in requested), requested
    assert any("/gallery/assets/mathjax/es5/output/chtml/fonts/woff-v2/" in u for u in requested)
    assert failed == [] and csp_violations == []


def test_latex_is_typeset_in_the_portals_frame(
        running_appliance: Appliance, page: Page, csp_violations: list[str], artifacts: Path) -> None:
    url = published(running_appliance)
    origin = render_links(running_appliance).origin
    requested, failed = record_requests(page)
    page.goto(running_appliance.public_portal_url + "/login")
    page.evaluate(FRAME, [url, "allow-scripts"])
    frame = page.frame_locator("iframe").first
    frame.locator("mjx-container").first.wait_for(timeout=30_000)
    [render] = [f for f in page.frames if f.url.startswith(origin)]
    assert_typeset(render)
    page.screenshot(path=artifacts / "gallery-render-framed.png")
    portal = running_appliance.public_portal_url
    assert all(u.startswith((origin + "/", portal + "/", "data:")) for u in requested), requested
    assert failed == [] and csp_violations == []


def test_its_script_opens_no_popup_and_cannot_move_its_frame(
        running_appliance: Appliance, page: Page, artifacts: Path) -> None:
    listener = Listener()
    script = (f"<script>var w = null; try {{ w = window.open('{listener.url}/popup?x'); }} catch (e) {{}}"
              "console.log('popup:' + (w ? 'opened' : 'refused'));"
              f"setTimeout(function () {{ window.location = '{listener.url}/self'; }}, 200);</script>")
    url = published(running_appliance, dict(new_notebook(cells=[new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": script})])])))
    render_origin = render_links(running_appliance).origin
    page.goto(running_appliance.public_portal_url + "/login")
    try:
        with page.expect_console_message(lambda message: message.text.startswith("popup:")) as popup, \
                page.expect_event("framenavigated", lambda frame: frame != page.main_frame
                                  and not frame.url.startswith(render_origin)) as moved:
            page.evaluate(FRAME, [url, "allow-scripts allow-popups"])  # even a frame that would allow popups
        assert popup.value.text == "popup:refused"  # the page's own sandbox has no allow-popups
        assert not moved.value.url.startswith(listener.origin)  # the frame's navigation was refused (frame-src)
        page.screenshot(path=artifacts / "gallery-render-contained.png")
        assert listener.everything() == []
    finally:
        listener.close()
