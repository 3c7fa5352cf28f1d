"""The gallery's renderer on a real appliance: the supervised process works the render queue, survives
kill -9 mid-render without losing the job, fails what it cannot render with a reason, stays out of the
portal's way; its renders are served sandboxed on the render host through the front proxy.

Notebooks are published through the publish API (which queues a render job and NOTIFYs gallery_render).
A render is held in progress deterministically with the renderer's test-only gate (renderjob.GATE_ENV):
while the gate file is missing every render waits, within its time limit.
"""

from __future__ import annotations

import os
import signal
import statistics
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from appliance.gallery.assets import missing_render_assets
from appliance.gallery.renderer import NICE, POLL_S
from appliance.gallery.renderjob import GATE_ENV
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.render_queue import (
    being_rendered,
    connect,
    finished,
    job_state,
    notebook,
    queue,
    render_links,
    wait_until,
)

TIMEOUT_S = 10  # gallery.render_timeout_s here: a render of these notebooks takes about a second
MAX_HTML = 3_000_000  # gallery.render_max_html_bytes here: the lab template alone is about 270 KB
ATTEMPTS = 2  # gallery.render_attempts here


@pytest.fixture(scope="module")
def gate() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="render-gate-"))
    path = folder / "open"
    path.touch()
    yield path
    path.unlink(missing_ok=True)
    folder.rmdir()


@pytest.fixture(scope="module")
def gallery_appliance(gate: Path) -> Iterator[Appliance]:
    if missing_render_assets():
        pytest.fail(f"the render assets are not built ({missing_render_assets()}): see webui/render-assets.json")
    yield from running(hubs=0, APPLIANCE_GALLERY_RENDER_TIMEOUT_S=str(TIMEOUT_S),
                       APPLIANCE_GALLERY_RENDER_MAX_HTML_BYTES=str(MAX_HTML),
                       APPLIANCE_GALLERY_RENDER_ATTEMPTS=str(ATTEMPTS), **{GATE_ENV: str(gate)})


@pytest.fixture
def closed_gate(gate: Path) -> Iterator[Path]:
    """Renders wait until the test opens the gate again (``gate.touch()``)."""
    gate.unlink()
    try:
        yield gate
    finally:
        gate.touch()


def kill_renderer(appliance: Appliance) -> None:
    before = appliance.component("renderer")
    os.kill(before["pid"], signal.SIGKILL)
    appliance.wait_healthy(timeout=60, restarted=lambda report: next(
        c for c in report["components"] if c["name"] == "renderer")["restarts"] == before["restarts"] + 1)


def test_a_queued_publication_is_rendered_and_served_sandboxed_on_the_render_host(
        gallery_appliance: Appliance) -> None:
    with connect(gallery_appliance) as db:
        [(slug, version, job)] = queue(gallery_appliance, db, notebook())
        assert finished(gallery_appliance, db, job) == ("done", 1, None)
        html, preview, rendered_at = db.execute(
            "SELECT html, preview_html, rendered_at FROM gallery.versions WHERE id = %s", (version,)).fetchone()  # type: ignore[misc]
        thumbnails = db.execute("SELECT position, width, height, png FROM gallery.thumbnails WHERE version_id = %s",
                                (version,)).fetchall()
    page = zlib.decompress(html).decode()
    assert "/gallery/assets/mathjax/es5/tex-chtml-full.js" in page and "e^{i\\pi} + 1 = 0" in page
    assert rendered_at is not None
    assert f'src="/gallery/thumbnails/{version}/0.png"' in preview and "plot()" in preview
    assert [(p, w, h) for p, w, h, _ in thumbnails] == [(0, 320, 200)] and bytes(thumbnails[0][3])[:4] == b"\x89PNG"

    links = render_links(gallery_appliance)
    url = links.url(slug, 1)
    assert url.startswith(f"http://0-render.hub.lab.localhost:{gallery_appliance.proxy_port}/gallery/rendered/")
    with httpx.Client(timeout=10) as client:  # through the front proxy, as browsers come
        response = client.get(url)
        assert response.status_code == 200 and response.text == page
        assert response.headers["content-security-policy"].startswith("sandbox allow-scripts;")
        assert "set-cookie" not in response.headers
        mathjax = client.get(f"{links.origin}/gallery/assets/mathjax/es5/tex-chtml-full.js")
        assert mathjax.status_code == 200 and mathjax.headers["access-control-allow-origin"] == "*"
        for path in ("/", "/login", "/healthz", "/api/status", "/gallery", f"/gallery/rendered/{slug}/v/1"):
            refused = client.get(links.origin + path)
            assert refused.status_code == 404 and "set-cookie" not in refused.headers, path
        assert client.get(url.replace(links.origin, gallery_appliance.public_portal_url)).status_code == 404


def test_a_publication_wakes_the_idle_renderer_at_once_and_it_renders_niced(
        gallery_appliance: Appliance, gate: Path) -> None:
    with connect(gallery_appliance) as db:
        [(_, _, first)] = queue(gallery_appliance, db, notebook())
        assert finished(gallery_appliance, db, first)[0] == "done"  # the renderer's poll starts over now
        gate.unlink()
        try:
            [(_, _, job)] = queue(gallery_appliance, db, notebook())
            published = time.monotonic()
            wait_until(gallery_appliance, lambda: being_rendered(db, job, attempts=1), "the renderer to take it")
            assert time.monotonic() - published < POLL_S / 2  # NOTIFY gallery_render woke it, not its poll
            renderer = psutil.Process(gallery_appliance.component("renderer")["pid"])
            family = [renderer, *renderer.children(recursive=True)]  # the fork server and the render too
            assert len(family) >= 3 and [process.nice() for process in family] == [NICE] * len(family)
        finally:
            gate.touch()
        assert finished(gallery_appliance, db, job)[0] == "done"


def test_kill_9_of_the_renderer_mid_render_leaves_the_job_to_the_restarted_renderer(
        gallery_appliance: Appliance, closed_gate: Path) -> None:
    with connect(gallery_appliance) as db:
        [(_, version, job)] = queue(gallery_appliance, db, notebook())
        wait_until(gallery_appliance, lambda: being_rendered(db, job, attempts=1), "the renderer to take the job")
        kill_renderer(gallery_appliance)
        wait_until(gallery_appliance, lambda: being_rendered(db, job, attempts=2),
                   "the restarted renderer to take the job again")
        closed_gate.touch()
        assert finished(gallery_appliance, db, job) == ("done", 2, None)
        assert db.execute("SELECT html IS NOT NULL FROM gallery.versions WHERE id = %s",
                          (version,)).fetchone() == (True,)


def test_a_renderer_stopped_mid_render_gives_the_job_and_its_attempt_back(
        gallery_appliance: Appliance, closed_gate: Path) -> None:
    with connect(gallery_appliance) as db:
        [(_, _, job)] = queue(gallery_appliance, db, notebook())
        wait_until(gallery_appliance, lambda: being_rendered(db, job, attempts=1), "the renderer to take the job")
        before = gallery_appliance.component("renderer")["pid"]
        restarted = gallery_appliance.cli("restart", "renderer")
        assert restarted.returncode == 0, restarted.stderr
        assert gallery_appliance.component("renderer")["pid"] != before
        # a graceful stop is no failed attempt: taken again, it is the first attempt again
        wait_until(gallery_appliance, lambda: being_rendered(db, job, attempts=1), "the new renderer to take it")
        closed_gate.touch()
        assert finished(gallery_appliance, db, job) == ("done", 1, None)


def test_a_job_that_takes_the_renderer_down_every_time_is_given_up_with_its_reason(
        gallery_appliance: Appliance, closed_gate: Path) -> None:
    with connect(gallery_appliance) as db:
        [(_, _, job), (_, _, after)] = queue(gallery_appliance, db, notebook(), notebook())
        for attempt in range(1, ATTEMPTS + 1):
            wait_until(gallery_appliance, lambda attempt=attempt: being_rendered(db, job, attempt),
                       f"render attempt {attempt}")
            kill_renderer(gallery_appliance)
        wait_until(gallery_appliance, lambda: being_rendered(db, after, 1), "the next job to be rendered")
        state, attempts, error = job_state(db, job)
        assert (state, attempts) == ("failed", ATTEMPTS + 1)
        assert f"stopped while rendering this notebook {ATTEMPTS} times (gallery.render_attempts" in str(error)
        closed_gate.touch()
        assert finished(gallery_appliance, db, after)[0] == "done"


def test_a_render_over_its_time_limit_is_stopped_and_recorded_failed(
        gallery_appliance: Appliance, closed_gate: Path) -> None:
    with connect(gallery_appliance) as db:
        [(_, version, job)] = queue(gallery_appliance, db, notebook())
        state, attempts, error = finished(gallery_appliance, db, job, timeout=TIMEOUT_S + 30)
        assert (state, attempts) == ("failed", 1)
        assert error == (f"Rendering took longer than {TIMEOUT_S} s (gallery.render_timeout_s) and was stopped. "
                         "Publish it with fewer or smaller outputs (or \"strip outputs\"), or ask an administrator "
                         "to raise the limit.")
        assert db.execute("SELECT html FROM gallery.versions WHERE id = %s", (version,)).fetchone() == (None,)


def test_a_render_over_its_size_limit_is_recorded_failed_naming_the_limit(gallery_appliance: Appliance) -> None:
    with connect(gallery_appliance) as db:
        [(_, version, job)] = queue(gallery_appliance, db, notebook("x" * 1_000_000, outputs=4))
        state, _, error = finished(gallery_appliance, db, job)
        assert state == "failed" and "too big" in str(error)
        assert f"at most {MAX_HTML:,} bytes (gallery.render_max_html_bytes)" in str(error)
        assert db.execute("SELECT html FROM gallery.versions WHERE id = %s", (version,)).fetchone() == (None,)


def test_fifty_queued_publications_all_render_while_the_portal_answers_quickly(gallery_appliance: Appliance) -> None:
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=gallery_appliance.portal_url, timeout=5) as client:
            client.get("/healthz").raise_for_status()  # the connection is open before the renders start
            while not stop.is_set():
                began = time.perf_counter()
                client.get("/healthz").raise_for_status()
                latencies.append(time.perf_counter() - began)
                stop.wait(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with connect(gallery_appliance) as db:
            began = time.monotonic()
            jobs = [job for _, _, job in queue(gallery_appliance, db, *[notebook() for _ in range(50)])]
            wait_until(gallery_appliance, lambda: db.execute(
                "SELECT count(*) FROM gallery.render_jobs WHERE id = ANY(%s) AND state = 'queued'",
                (jobs,)).fetchone() == (0,), "50 renders", timeout=300)
            elapsed = time.monotonic() - began
            states = db.execute("SELECT state, count(*) FROM gallery.render_jobs WHERE id = ANY(%s) GROUP BY state",
                                (jobs,)).fetchall()
    finally:
        stop.set()
        prober.join()
    assert states == [("done", 50)]
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"50 renders in {elapsed:.1f} s; /healthz p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms over {len(latencies)} requests")
    assert p99 < 0.1
