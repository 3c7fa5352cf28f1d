"""A publication's card preview: one cell as a sanitised HTML fragment, its images as PNG thumbnails.

The preview is shown on the portal's own origin, so unlike the full render it is sanitised (nh3, an
allow-list with no script, no style, no images of the notebook's own) and every image is a raster
made here with Pillow, served by the portal as PNG: an SVG output never reaches the portal's origin
(an SVG is a document that can carry script), it is left out of the preview.

Which cell: the showcase cell (``metadata.appliance.showcase``); without one, the first image output
of the notebook; without any, its first markdown cell.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_SOURCE_LINES = 30  # of a showcased code cell
MAX_TEXT_CHARS = 3000  # of one text output, or a cell's source
MAX_HTML_CHARS = 200_000  # of one HTML or markdown piece, before sanitising (the card shows little of it)
MAX_THUMBNAILS = 6
THUMBNAIL_BOX = (800, 800)  # largest thumbnail, in pixels; the aspect ratio is kept
MAX_SOURCE_PIXELS = 40_000_000  # a bigger image is skipped, not decoded (Pillow would warn from 89 M)
RASTER_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what an image output is made from

# no links: the whole card is a link to the publication, and a link inside a link splits the card apart
TAGS = {"abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "h1",
        "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
        "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
ATTRIBUTES = {"td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def thumbnail_path(version_id: int, position: int) -> str:
    """Where the portal serves a version's thumbnail (gallery.thumbnails; PNG only)."""
    return f"/gallery/thumbnails/{version_id}/{position}.png"


@dataclass(frozen=True)
class Thumbnail:
    position: int  # 0 is the card's image; the rest follow in the preview's order
    png: bytes
    width: int
    height: int


@dataclass
class Preview:
    html: str = ""
    thumbnails: list[Thumbnail] = field(default_factory=list)


def make_preview(notebook: Mapping[str, Any], version_id: int) -> Preview:
    """The preview of ``notebook`` (its JSON as a dict) for the version ``version_id``."""
    cells = [cell for cell in notebook.get("cells", []) if isinstance(cell, Mapping)]
    builder = _Builder(lambda position: thumbnail_path(version_id, position))
    showcase = next((cell for cell in cells if _is_showcase(cell)), None)
    if showcase is not None:
        builder.add_cell(showcase)
    else:
        for image in (data for cell in cells for data in _output_data(cell) if _raster_of(data)):
            if builder.add_image(image):
                break
        if not builder.preview.thumbnails:
            markdown = next((cell for cell in cells if cell.get("cell_type") == "markdown"), None)
            if markdown is not None:
                builder.add_cell(markdown)
    return builder.preview


def sanitize(fragment: str) -> str:
    """``fragment`` reduced to the allow-list: text structure and tables (a link keeps its text only)."""
    import nh3

    return nh3.clean(fragment[:MAX_HTML_CHARS], tags=TAGS, attributes=ATTRIBUTES, link_rel=None)


def markdown_html(source: str) -> str:
    import mistune

    return sanitize(str(mistune.html(source[:MAX_HTML_CHARS])))


def thumbnail(data: bytes, position: int) -> Thumbnail | None:
    """A PNG of at most THUMBNAIL_BOX from a raster image, or None when it is not one Pillow reads."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_SOURCE_PIXELS:
                    return None
                image.thumbnail(THUMBNAIL_BOX)  # also reads the first frame of an animation
                converted = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
                out = io.BytesIO()
                converted.save(out, format="PNG")
                return Thumbnail(position, out.getvalue(), converted.width, converted.height)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None  # not an image, a damaged one, or a bomb: no thumbnail


class _Builder:
    def __init__(self, url: Callable[[int], str]):
        self.url = url
        self.parts: list[str] = []
        self.preview = Preview()

    def add_cell(self, cell: Mapping[str, Any]) -> None:
        source = _text(cell.get("source", ""))
        kind = cell.get("cell_type")
        if kind == "markdown":
            self.parts.append(markdown_html(source))
        elif kind == "code":
            lines = source[:MAX_TEXT_CHARS].splitlines()
            shown = "\n".join(lines[:MAX_SOURCE_LINES]) + ("\n…" if len(lines) > MAX_SOURCE_LINES else "")
            self.parts.append(f'<pre class="gallery-preview-source"><code>{html.escape(shown)}</code></pre>')
            for output in cell.get("outputs", []) or []:
                if isinstance(output, Mapping):
                    self.add_output(output)
        else:
            self.parts.append(_pre(source))
        self.preview.html = "\n".join(part for part in self.parts if part)

    def add_output(self, output: Mapping[str, Any]) -> None:
        kind = output.get("output_type")
        if kind == "stream":
            self.parts.append(_pre(_text(output.get("text", ""))))
        elif kind == "error":
            self.parts.append(_pre(f"{output.get('ename', '')}: {output.get('evalue', '')}"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if not isinstance(data, Mapping) or self.add_image(data):
                return
            if "text/html" in data:
                self.parts.append(sanitize(_text(data["text/html"])))
            elif "text/markdown" in data:
                self.parts.append(markdown_html(_text(data["text/markdown"])))
            elif "text/plain" in data:
                self.parts.append(_pre(_text(data["text/plain"])))

    def add_image(self, data: Mapping[str, Any]) -> bool:
        """Add the raster in an output's ``data`` as the next thumbnail; False when there is none to add."""
        raw = _raster_of(data)
        position = len(self.preview.thumbnails)
        if raw is None or position >= MAX_THUMBNAILS:
            return False
        made = thumbnail(raw, position)
        if made is None:
            return False
        self.preview.thumbnails.append(made)
        alt = html.escape(_text(data.get("text/plain", ""))[:200], quote=True)
        self.parts.append(f'<img class="gallery-preview-image" src="{self.url(position)}" width="{made.width}" '
                          f'height="{made.height}" alt="{alt}">')
        self.preview.html = "\n".join(part for part in self.parts if part)
        return True


def _is_showcase(cell: Mapping[str, Any]) -> bool:
    metadata = cell.get("metadata")
    appliance = metadata.get("appliance") if isinstance(metadata, Mapping) else None
    return isinstance(appliance, Mapping) and appliance.get("showcase") is True


def _output_data(cell: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if cell.get("cell_type") != "code":
        return
    for output in cell.get("outputs", []) or []:
        data = output.get("data") if isinstance(output, Mapping) else None
        if isinstance(data, Mapping):
            yield data


def _raster_of(data: Mapping[str, Any]) -> bytes | None:
    for kind in RASTER_TYPES:
        if kind in data:
            try:
                return base64.b64decode(_text(data[kind]), validate=False)
            except (binascii.Error, ValueError):
                return None
    return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def _pre(text: str) -> str:
    if not text:
        return ""
    cut = text[:MAX_TEXT_CHARS] + ("…" if len(text) > MAX_TEXT_CHARS else "")
    return f"<pre>{html.escape(cut)}</pre>"
