"""The gallery's renderer: a supervised process (`python -m appliance.application.renderer`) that works the
render queue off the portal's request path.

The queue is ``gallery.render_jobs``. A worker takes the oldest queued job in two steps:
1. ``claim``, one committed statement, counts an attempt (``FOR UPDATE SKIP LOCKED`` picks a job no
   other worker holds). A job whose attempts pass gallery.render_attempts is recorded failed there:
   a notebook that takes the renderer down every time stops doing so.
2. ``lock`` opens the transaction the render runs in, holding the job's row (``FOR UPDATE SKIP LOCKED``,
   and only at the attempt count this worker made, so two workers never render one job). The result
   and the job's end are written in that transaction. A renderer killed mid-render (``kill -9``) loses
   its connection, PostgreSQL ends the transaction and the row is free: the restarted renderer takes
   the job again. Stopped gracefully, a worker gives the attempt back.
A job being rendered stays 'queued' with ``attempts > 0`` (what a page shows as "rendering").

Each render runs in a process of its own, forked from a fork server that has nbconvert loaded
(renderjob.py), killed at gallery.render_timeout_s; a page over gallery.render_max_html_bytes is
refused. The renderer runs niced (CPU and I/O), so renders yield to the portal and the hubs.

Workers wake on ``NOTIFY gallery_render`` (sent by publish and rerender), and look anyway every
POLL_S. The main thread writes a heartbeat file (the supervisor's health check) while every worker
and the listener are alive.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import psutil
import psycopg

from appliance.db.pool import libpq_url
from appliance.gallery import renderjob
from appliance.gallery.assets import missing_render_assets
from appliance.gallery.renderjob import Rendered
from appliance.gallery.settings import GallerySettings
from appliance.webui import GALLERY_ASSETS

log = logging.getLogger("appliance.gallery")
CHANNEL = "gallery_render"
POLL_S = 10.0  # a job queued without a NOTIFY (or while the listener reconnected) waits at most this long
HEARTBEAT_S = 2.5  # between the heartbeat file's writes
STALE_AFTER_S = 10.0  # a heartbeat file older than this: the supervisor's check fails
STOP_POLL_S = 1.0  # a render looks this often whether the renderer is stopping
HEARTBEAT_FILE = "renderer.heartbeat"  # in the home's run directory
NICE = 10  # CPU niceness of the renderer and its renders
RETRY_S = 2.0  # after losing the database
RESULT_OVERHEAD_BYTES = 32 * 1024 * 1024  # the preview and thumbnails, beside the page, in a result


@dataclass(frozen=True)
class Job:
    id: int
    version_id: int
    attempts: int


def gave_up(attempts: int) -> str:
    return (f"The renderer stopped while rendering this notebook {attempts} times (gallery.render_attempts = "
            f"{attempts}), so it was given up. The notebook may be too large or too complex to convert: publish "
            "it with fewer outputs (or \"strip outputs\"), or ask an administrator to look at the renderer's log "
            "(appliance logs renderer).")


def timed_out(limit_s: float) -> str:
    return (f"Rendering took longer than {limit_s:g} s (gallery.render_timeout_s) and was stopped. Publish it with "
            "fewer or smaller outputs (or \"strip outputs\"), or ask an administrator to raise the limit.")


class RenderQueue:
    """The queue's SQL, on a worker's own connection (not autocommit: ``lock`` holds a transaction)."""

    def __init__(self, connection: psycopg.Connection[Any], settings: GallerySettings):
        self.db, self.settings = connection, settings

    def claim(self) -> Job | None:
        """Count an attempt on the oldest job nobody renders, committed at once."""
        with self.db.transaction():
            row = self.db.execute(
                "UPDATE gallery.render_jobs SET attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM gallery.render_jobs WHERE state = 'queued' ORDER BY id"
                " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, version_id, attempts").fetchone()
            if row is None:
                return None
            job = Job(*row)
            if job.attempts > self.settings.render_attempts:
                self._finish(job, "failed", gave_up(self.settings.render_attempts))
                log.warning("render job %s (version %s) given up after %s attempts", job.id, job.version_id,
                            self.settings.render_attempts)
                return None
        return job

    def lock(self, job: Job) -> bytes | None:
        """Open the render's transaction holding ``job``; its notebook (zlib JSON), or None if another has it."""
        row = self.db.execute(
            "SELECT v.notebook FROM gallery.render_jobs j JOIN gallery.versions v ON v.id = j.version_id"
            " WHERE j.id = %s AND j.state = 'queued' AND j.attempts = %s FOR UPDATE OF j SKIP LOCKED",
            (job.id, job.attempts)).fetchone()
        if row is None:
            self.db.rollback()
            return None
        return bytes(row[0])

    def store(self, job: Job, result: Rendered, seconds: float) -> None:
        """Record the render, which took ``seconds``, and end the job (and the transaction ``lock`` opened)."""
        if result.error is not None:
            self._finish(job, "failed", result.error, seconds)
        else:
            self.db.execute("UPDATE gallery.versions SET html = %s, preview_html = %s, rendered_at = now()"
                            " WHERE id = %s", (result.html_z, result.preview_html, job.version_id))
            self.db.execute("DELETE FROM gallery.thumbnails WHERE version_id = %s", (job.version_id,))
            with self.db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO gallery.thumbnails (version_id, position, png, width, height)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    [(job.version_id, t.position, t.png, t.width, t.height) for t in result.thumbnails])
            self._finish(job, "done", None, seconds)
        self.db.commit()

    def give_back(self, job: Job) -> None:
        """A graceful stop mid-render: the attempt does not count, and the job is free again."""
        self.db.execute("UPDATE gallery.render_jobs SET attempts = attempts - 1 WHERE id = %s", (job.id,))
        self.db.commit()

    def _finish(self, job: Job, state: str, error: str | None, seconds: float | None = None) -> None:
        self.db.execute("UPDATE gallery.render_jobs SET state = %s, error = %s, finished_at = now(), "
                        "render_seconds = %s WHERE id = %s", (state, error, seconds, job.id))


class Stopping(Exception):
    """The renderer is stopping: the render in progress was abandoned."""


class RenderProcesses:
    """Runs each render in a process forked from a fork server with the converters loaded."""

    def __init__(self, settings: GallerySettings, stopping: threading.Event):
        self.settings, self.stopping = settings, stopping
        self.context: ForkServerContext = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(renderjob.PRELOAD)

    def start(self) -> None:
        """Start the fork server now (it loads the converters), not on the first render. Called on the main
        thread before the workers start.

        The fork server, and so every render forked from it, ignores SIGTERM from its start. A stop signals
        the renderer's whole process group, and a render that died of it before the renderer saw the stop
        would be recorded failed instead of given back (render_in_child's own ignore comes after the fork).
        """
        process = self.context.Process(target=renderjob.warm, name="warm-up", daemon=True)
        with ignored_by_children(signal.SIGTERM):
            process.start()
        process.join()

    def render(self, notebook_z: bytes, version_id: int) -> Rendered:
        limit = self.settings.render_max_html_bytes
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=renderjob.render_in_child, args=(notebook_z, version_id, limit, writer),
                                       name=f"render-{version_id}", daemon=True)
        process.start()
        writer.close()
        deadline = time.monotonic() + self.settings.render_timeout_s
        try:
            while not reader.poll(min(STOP_POLL_S, max(0.0, deadline - time.monotonic()))):
                if self.stopping.is_set():
                    raise Stopping
                if time.monotonic() >= deadline:
                    return Rendered(error=timed_out(self.settings.render_timeout_s))
            try:
                return renderjob.decode(reader.recv_bytes(limit + RESULT_OVERHEAD_BYTES))
            except EOFError:
                if self.stopping.is_set():
                    raise Stopping from None
                process.join(5)
                return Rendered(error=f"The render process ended without a result ({describe(process.exitcode)}); "
                                      "the notebook may need more memory than the renderer has. Publish it with "
                                      "fewer or smaller outputs (or \"strip outputs\").")
            except OSError:  # recv_bytes refuses a message over its limit
                return Rendered(error=renderjob.too_big(None, limit))
        finally:
            reader.close()
            if process.is_alive():
                process.kill()
            process.join(5)


@contextlib.contextmanager
def ignored_by_children(signum: int) -> Iterator[None]:
    """Processes started inside ignore ``signum`` (an ignored signal is the one disposition exec keeps),
    while this one keeps its handler: a ``signum`` that arrives meanwhile is blocked, not ignored (Linux keeps
    a blocked signal pending even while it is ignored), and is handled at the end. Main thread only."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
    handler = signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


class Renderer:
    """The process: workers, the listener and the heartbeat (see the module docstring)."""

    def __init__(self, database_url: str, settings: GallerySettings, heartbeat: Path):
        self.conninfo = libpq_url(database_url)
        self.settings, self.heartbeat = settings, heartbeat
        self.stopping, self.wake = threading.Event(), threading.Event()
        self._stop_read, self._stop_write = os.pipe()  # wakes the listener, which waits on sockets, at stop()
        self.processes = RenderProcesses(settings, self.stopping)
        self.threads: list[threading.Thread] = []

    def run(self) -> None:
        self.processes.start()
        self.threads = [threading.Thread(target=self._listen, name="listener", daemon=True)]
        self.threads += [threading.Thread(target=self._work, name=f"worker-{n}", daemon=True)
                         for n in range(self.settings.renderers)]
        for thread in self.threads:
            thread.start()
        log.info("renderer ready: %s worker(s), up to %g s and %s bytes a render", self.settings.renderers,
                 self.settings.render_timeout_s, self.settings.render_max_html_bytes)
        while True:  # the first beat at once: it is what the supervisor waits for at the start
            if not all(thread.is_alive() for thread in self.threads):
                raise RuntimeError("a renderer thread died (its error is logged above)")
            self.beat()
            if self.stopping.wait(HEARTBEAT_S):
                break
        for thread in self.threads:
            thread.join(10)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        os.write(self._stop_write, b"x")

    def beat(self) -> None:
        """Tell the supervisor this process is alive (its health check reads the file's pid and age)."""
        temporary = self.heartbeat.with_suffix(".tmp")
        temporary.write_text(str(os.getpid()))
        temporary.replace(self.heartbeat)

    def _listen(self) -> None:
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.wake.set()  # anything queued while nobody listened
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=0):  # those waiting; psycopg's own wait for more
                            self.wake.set()                        # wakes every 0.1 s: the socket's is idle
                        select.select([connection.fileno(), self._stop_read], [], [])
            except psycopg.OperationalError as error:
                log.warning("the renderer's listener lost the database (%s); retrying in %g s", error, RETRY_S)
                self.stopping.wait(RETRY_S)

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo) as connection:
                    queue = RenderQueue(connection, self.settings)
                    while not self.stopping.is_set():
                        self.wake.clear()
                        if not self._render_next(queue):
                            self.wake.wait(POLL_S)
            except psycopg.OperationalError as error:
                log.warning("a render worker lost the database (%s); retrying in %g s", error, RETRY_S)
                self.stopping.wait(RETRY_S)

    def _render_next(self, queue: RenderQueue) -> bool:
        """Render the oldest queued job; False when there was none to take."""
        job = queue.claim()
        if job is None:
            return False
        notebook_z = queue.lock(job)
        if notebook_z is None:
            return True  # another worker took it between the two steps
        began = time.monotonic()
        try:
            result = self.processes.render(notebook_z, job.version_id)
        except Stopping:
            queue.give_back(job)
            return True
        seconds = time.monotonic() - began
        queue.store(job, result, seconds)
        log.info("render job %s (version %s): %s in %.1f s", job.id, job.version_id,
                 "done" if result.error is None else f"failed: {result.error}", seconds)
        return True


def renderer_heartbeat(run_dir: Path) -> tuple[Path, float]:
    """The renderer's heartbeat file in the home's run directory, and the age past which it is unhealthy."""
    return run_dir / HEARTBEAT_FILE, STALE_AFTER_S


def lower_priority() -> None:
    """Let the portal and the hubs go first: CPU niceness, and the lowest best-effort I/O priority."""
    os.nice(NICE)
    with contextlib.suppress(AttributeError, psutil.Error, OSError):  # not Linux, or not allowed: CPU is what matters
        psutil.Process().ionice(psutil.IOPRIO_CLASS_BE, 7)


def serve(database_url: str, settings: GallerySettings, run_dir: Path) -> None:
    """Render until SIGTERM or SIGINT, as the appliance's renderer process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if missing := missing_render_assets():
        log.warning("the render assets %s are missing from %s: rendered pages will show their LaTeX as source. "
                    "They are built with the wheel (or installer/install.sh --dev) from webui/render-assets.json.",
                    ", ".join(missing), GALLERY_ASSETS)
    lower_priority()
    renderer = Renderer(database_url, settings, renderer_heartbeat(run_dir)[0])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: renderer.stop())
    renderer.run()
