"""The card preview: which cell, sanitised HTML, PNG thumbnails (gallery/preview.py)."""

from __future__ import annotations

import base64
import io
from typing import Any

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from appliance.gallery.preview import MAX_SOURCE_PIXELS, THUMBNAIL_BOX, make_preview, thumbnail

SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'


def png(width: int = 40, height: int = 30, color: str = "red") -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def image_output(data: dict[str, Any]) -> Any:
    return new_output("display_data", data=data)


def showcase(cell: Any) -> Any:
    cell.metadata["appliance"] = {"showcase": True}
    return cell


def test_the_showcase_cell_is_the_preview_with_its_source_output_and_image() -> None:
    notebook = new_notebook(cells=[
        new_markdown_cell("# Intro"),
        new_code_cell("x = 1"),
        showcase(new_code_cell("plot(x < 2)", outputs=[
            new_output("stream", name="stdout", text="ready <b>"),
            image_output({"image/png": png(), "text/plain": "<Figure \"1\">"})])),
    ])
    preview = make_preview(notebook, version_id=7)
    assert "plot(x &lt; 2)" in preview.html and "ready &lt;b&gt;" in preview.html and "Intro" not in preview.html
    assert '<img class="gallery-preview-image" src="/gallery/thumbnails/7/0.png" width="40" height="30"' in preview.html
    assert 'alt="&lt;Figure &quot;1&quot;&gt;"' in preview.html
    [made] = preview.thumbnails
    assert made.position == 0 and (made.width, made.height) == (40, 30)
    assert made.png.startswith(b"\x89PNG\r\n\x1a\n")


def test_script_and_handlers_in_a_showcased_cell_never_reach_the_fragment() -> None:
    hostile = ('<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">j</a>'
               '<iframe src="/logout"></iframe><form action="/logout"><button>b</button></form>'
               '<svg onload="alert(4)"></svg><style>body{display:none}</style><a href="https://x.org">ok</a>'
               '<table><tr><td>1</td></tr></table>')
    notebook = new_notebook(cells=[showcase(new_code_cell("x", outputs=[
        image_output({"text/html": hostile}),
        image_output({"application/javascript": "alert(5)", "text/plain": "js"}),
        image_output({"image/svg+xml": SVG, "text/plain": "an svg"}),
    ]))])
    fragment = make_preview(notebook, 1).html
    for banned in ("<script", "onerror", "javascript:", "<iframe", "<form", "<svg", "onload", "<style", "alert(1)",
                   "<img"):
        assert banned not in fragment
    assert "<a" not in fragment and "ok" in fragment  # a link keeps its text: the card is the link
    assert "<td>1</td>" in fragment and "an svg" in fragment  # the SVG's text stands in for it


def test_a_showcased_markdown_cell_is_rendered_and_sanitised() -> None:
    cell = showcase(new_markdown_cell("## Result\n\n*found* it <img src=x onerror=alert(1)> [l](javascript:x)"))
    fragment = make_preview(new_notebook(cells=[new_markdown_cell("first"), cell]), 1).html
    assert "<h2>Result</h2>" in fragment and "<em>found</em>" in fragment
    assert "onerror" not in fragment and "javascript:" not in fragment and "first" not in fragment


def test_without_a_showcase_cell_the_first_image_output_is_the_preview() -> None:
    notebook = new_notebook(cells=[
        new_markdown_cell("text first"),
        new_code_cell("a", outputs=[image_output({"image/svg+xml": SVG})]),  # an SVG is no thumbnail
        new_code_cell("b", outputs=[image_output({"image/png": "not base64 of an image"})]),
        new_code_cell("c", outputs=[image_output({"image/jpeg": png(20, 10)})]),  # Pillow reads what it is
        new_code_cell("d", outputs=[image_output({"image/png": png(30, 30)})]),
    ])
    preview = make_preview(notebook, 3)
    assert [(t.position, t.width, t.height) for t in preview.thumbnails] == [(0, 20, 10)]
    assert preview.html.startswith('<img class="gallery-preview-image" src="/gallery/thumbnails/3/0.png"')
    assert "text first" not in preview.html


def test_without_showcase_or_image_the_first_markdown_cell_is_the_preview() -> None:
    notebook = new_notebook(cells=[new_code_cell("x = 1"), new_markdown_cell("# Hello\nworld"),
                                   new_markdown_cell("second")])
    preview = make_preview(notebook, 1)
    assert "<h1>Hello</h1>" in preview.html and "second" not in preview.html and preview.thumbnails == []
    assert make_preview(new_notebook(cells=[new_code_cell("x")]), 1).html == ""


def test_thumbnails_are_bounded_pngs_and_bombs_or_junk_are_skipped() -> None:
    big = base64.b64decode(png(3000, 1500))
    made = thumbnail(big, 0)
    assert made is not None and (made.width, made.height) == (THUMBNAIL_BOX[0], THUMBNAIL_BOX[0] // 2)
    assert Image.open(io.BytesIO(made.png)).format == "PNG"
    side = int(MAX_SOURCE_PIXELS ** 0.5) + 10
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG")  # a few KB that would decode to 40+ megapixels
    assert thumbnail(out.getvalue(), 0) is None
    assert thumbnail(SVG.encode(), 0) is None and thumbnail(b"\x89PNG junk", 0) is None
