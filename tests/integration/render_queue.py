"""Publishing notebooks for the gallery's renderer (through the publish API, which queues a render job and
NOTIFYs gallery_render) and watching their jobs; shared by the renderer's integration tests and the
render's browser test."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image
from sqlalchemy.engine import make_url

from appliance.config import load_config
from appliance.gallery.rendered import RENDER_LINK_SECRET, RenderLinks
from tests.harness import Appliance, mint_storage_token

RENDER_WAIT_S = 60


def connect(appliance: Appliance) -> psycopg.Connection[Any]:
    url = make_url(appliance.database_url()).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def notebook(text: str = "", outputs: int = 1) -> dict[str, Any]:
    """A markdown cell with LaTeX, a showcased plot, and ``outputs`` cells printing ``text``."""
    plot = new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": png(320, 200),
                                                                             "text/plain": "<Figure>"})])
    plot.metadata["appliance"] = {"showcase": True}
    cells = [new_markdown_cell("# Results\n\nEuler: $e^{i\\pi} + 1 = 0$, and\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$"),
             plot]
    cells += [new_code_cell("print(text)", outputs=[new_output("stream", name="stdout", text=text)])
              for _ in range(outputs if text else 0)]
    return dict(new_notebook(cells=cells))


def queue(appliance: Appliance, db: psycopg.Connection[Any], *notebooks: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Publish ``notebooks`` through the publish API, as a member's server does (it queues a render and
    NOTIFYs the renderer); [(slug, version_id, job_id)] in queue order."""
    token = mint_storage_token(appliance, publisher(appliance))
    queued = []
    with httpx.Client(base_url=appliance.portal_url, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for content in notebooks:
            response = client.post("/api/gallery/v1/publications", json={
                "notebook": content, "path": "results.ipynb", "title": "Results", "summary": "", "tags": [],
                "visibility": "lab", "strip_outputs": False, "new_version_of": None})
            assert response.status_code == 201, response.text
            slug = response.json()["slug"]
            row = db.execute("SELECT v.id, j.id FROM gallery.publications p JOIN gallery.versions v ON"
                             " v.publication_id = p.id JOIN gallery.render_jobs j ON j.version_id = v.id"
                             " WHERE p.slug = %s", (slug,)).fetchone()
            assert row is not None
            queued.append((slug, row[0], row[1]))
    return queued


def publisher(appliance: Appliance) -> str:
    """A member of ``appliance`` who publishes (added once)."""
    if appliance.home not in _publishers:
        added = appliance.cli("users", "add", "renderauthor")
        assert added.returncode == 0, added.stderr
        _publishers[appliance.home] = "renderauthor"
    return _publishers[appliance.home]


_publishers: dict[Path, str] = {}


def job_state(db: psycopg.Connection[Any], job: int) -> tuple[str, int, str | None]:
    row = db.execute("SELECT state, attempts, error FROM gallery.render_jobs WHERE id = %s", (job,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def being_rendered(db: psycopg.Connection[Any], job: int, attempts: int) -> bool:
    """The job is claimed (its attempt counted) and its row held by a renderer's transaction: the row's
    xmax names a transaction that is still running. (Probing with FOR UPDATE SKIP LOCKED would lock the
    row itself, and the renderer would skip it for the next job.)"""
    row = db.execute(
        "SELECT state, attempts, EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'transactionid'"
        " AND l.transactionid = j.xmax AND l.granted) FROM gallery.render_jobs j WHERE j.id = %s", (job,)).fetchone()
    return row == ("queued", attempts, True)


def wait_until(appliance: Appliance, condition: Callable[[], bool], what: str, timeout: float = RENDER_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}; the renderer's log ends:\n{renderer_log(appliance)}")
        time.sleep(0.05)


def finished(appliance: Appliance, db: psycopg.Connection[Any], job: int,
             timeout: float = RENDER_WAIT_S) -> tuple[str, int, str | None]:
    wait_until(appliance, lambda: job_state(db, job)[0] != "queued", f"render job {job} to finish", timeout)
    return job_state(db, job)


def renderer_log(appliance: Appliance, lines: int = 40) -> str:
    path = appliance.home / "logs" / "renderer.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def render_links(appliance: Appliance) -> RenderLinks:
    """The portal's signed links to renders (it signs with the home's secret)."""
    config = load_config(environ=appliance.env)
    return RenderLinks(config.home.secret(RENDER_LINK_SECRET), config.addresses.render_origin)
