"""The renderer's render processes (gallery/renderer.py RenderProcesses) against a stop.

A stop of the appliance signals the renderer's whole process group, its fork server and renders included.
The render must outlive that signal until the renderer, seeing the stop, abandons it (and gives its job
back): a render that died first was recorded failed (a flaky integration test found it).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import zlib
from pathlib import Path

import psutil
import pytest
from nbformat.v4 import new_notebook

from appliance.gallery.renderer import RenderProcesses, Stopping
from appliance.gallery.renderjob import GATE_ENV
from appliance.gallery.settings import GallerySettings


def test_a_render_outlives_the_stop_signal_until_the_renderer_abandons_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GATE_ENV, str(tmp_path / "never-opened"))  # the render waits in its process
    stopping = threading.Event()
    processes = RenderProcesses(GallerySettings(), stopping)
    processes.context.set_forkserver_preload([])  # the converters are not needed here (they take seconds to load)
    processes.start()
    outcome: list[object] = []

    def render() -> None:
        try:
            outcome.append(processes.render(zlib.compress(json.dumps(new_notebook()).encode()), 1))
        except Stopping as stopped:
            outcome.append(stopped)

    worker = threading.Thread(target=render)
    worker.start()
    try:
        fork_server, child = render_processes()
        for process in (fork_server, child):  # as a stop's signal to the group would (not to this test's group)
            os.kill(process.pid, signal.SIGTERM)
        gone, _ = psutil.wait_procs([fork_server, child], timeout=1.0)
        assert not gone, "a render process died of the stop's signal"
    finally:
        stopping.set()
        worker.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Stopping), outcome
    assert not child.is_running(), "the abandoned render is still running"


def render_processes() -> tuple[psutil.Process, psutil.Process]:
    """The fork server (this process's child; not the session's PostgreSQL) and the render forked from it, once
    it is there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for fork_server in psutil.Process().children():
            if "multiprocessing.forkserver" in " ".join(fork_server.cmdline()) and (renders := fork_server.children()):
                return fork_server, renders[0]
        time.sleep(0.02)
    pytest.fail("no render process started within 30 s")
