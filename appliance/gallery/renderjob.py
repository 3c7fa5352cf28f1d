"""One render, as it runs in a process of its own: notebook in, page, preview and thumbnails out.

The renderer (renderer.py) forks a process per render from a warmed-up fork server, so that a render
that takes too long or grows too big is killed without harming the renderer, and a crash of
nbconvert, Pillow or the memory they take stays in that process. The result crosses a pipe as one
message: a JSON header line, then the bytes it counts.
"""

from __future__ import annotations

import json
import os
import signal
import time
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from appliance.gallery.preview import Thumbnail

# For tests only: while this file is missing, every render waits (up to its time limit) before it
# starts, so a test can observe a render in progress (and kill the renderer in the middle of one).
GATE_ENV = "APPLIANCE_TEST_RENDER_GATE"
HUFFMAN_ONLY_FROM_BYTES = 1_000_000
PRELOAD = ["appliance.gallery.renderjob", "appliance.gallery.preview", "appliance.gallery.warmup", "mistune", "nh3",
           "PIL.Image", "PIL.PngImagePlugin"]


@dataclass
class Rendered:
    html_z: bytes = b""  # the page, zlib-compressed (as versions.html stores it)
    html_size: int = 0
    preview_html: str = ""
    thumbnails: list[Thumbnail] = field(default_factory=list)
    error: str | None = None  # why the notebook could not be rendered, for its author


def warm() -> None:
    """Nothing: a first process makes the renderer start its fork server (and load nbconvert) at once."""


def render_in_child(notebook_z: bytes, version_id: int, max_html_bytes: int, out: Connection) -> None:
    """The body of a render process: render, then send the result (or the reason it failed) to ``out``.
    A stop of the appliance signals the renderer's whole process group: the renderer, not this process,
    decides what becomes of the render (it gives the job back, then kills this process)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    _wait_for_gate()
    try:
        result = render(notebook_z, version_id, max_html_bytes)
    except Exception as error:  # noqa: BLE001 - any failure of the converters is the notebook's render failing
        result = Rendered(error=f"nbconvert could not convert this notebook ({type(error).__name__}: "
                                f"{str(error)[:500]}).")
    out.send_bytes(encode(result))
    out.close()


def render(notebook_z: bytes, version_id: int, max_html_bytes: int) -> Rendered:
    from appliance.gallery.convert import notebook_html
    from appliance.gallery.preview import make_preview

    notebook = json.loads(zlib.decompress(notebook_z))
    page = notebook_html(notebook).encode()
    if len(page) > max_html_bytes:
        return Rendered(error=too_big(len(page), max_html_bytes))
    preview = make_preview(notebook, version_id)
    return Rendered(compress(page), len(page), preview.html, preview.thumbnails)


def compress(page: bytes) -> bytes:
    """zlib, as versions.html keeps it. A big page is mostly base64 images, where LZ77's search costs much
    and gains little: Huffman coding alone does a 6 MB page in 0.26 s instead of 1.5 s, 2 % bigger."""
    if len(page) < HUFFMAN_ONLY_FROM_BYTES:
        return zlib.compress(page, 6)
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_HUFFMAN_ONLY)
    return compressor.compress(page) + compressor.flush()


def too_big(size: int | None, limit: int) -> str:
    made = f"{size:,} bytes" if size is not None else "more than that"
    return (f"The rendered page is too big: it made {made}, and the gallery renders pages of at most "
            f"{limit:,} bytes (gallery.render_max_html_bytes). Publish it with fewer or smaller outputs "
            "(or with \"strip outputs\"), or ask an administrator to raise the limit.")


def encode(result: Rendered) -> bytes:
    preview = result.preview_html.encode()
    header: dict[str, Any] = {
        "error": result.error, "html": len(result.html_z), "html_size": result.html_size, "preview": len(preview),
        "thumbnails": [[t.position, t.width, t.height, len(t.png)] for t in result.thumbnails]}
    return b"".join([json.dumps(header).encode(), b"\n", result.html_z, preview,
                     *(t.png for t in result.thumbnails)])


def decode(message: bytes) -> Rendered:
    head, _, body = message.partition(b"\n")
    header = json.loads(head)
    if header["error"]:
        return Rendered(error=str(header["error"]))
    at = header["html"]
    html_z, preview = body[:at], body[at:at + header["preview"]].decode()
    at += header["preview"]
    thumbnails = []
    for position, width, height, size in header["thumbnails"]:
        thumbnails.append(Thumbnail(position, body[at:at + size], width, height))
        at += size
    return Rendered(html_z, header["html_size"], preview, thumbnails)


def _wait_for_gate() -> None:
    gate = os.environ.get(GATE_ENV)
    while gate and not Path(gate).exists():  # test-only; the renderer's time limit still applies
        time.sleep(0.05)
