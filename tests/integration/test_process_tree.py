"""Nothing a child starts outlives the supervisor: not even a grandchild that left its process group.

The supervisor runs here in its own Python process (it becomes a subreaper and owns SIGCHLD, which
must not happen inside pytest), supervising a shell that starts an escaping grandchild.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

SUPERVISOR = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from appliance.supervisor.core import Supervisor
    from appliance.supervisor.process import ProcessLauncher
    from appliance.supervisor.settings import SupervisorSettings
    from appliance.supervisor.spec import ChildSpec

    async def main():
        logs = Path(sys.argv[1])
        launcher = ProcessLauncher(logs, 10_000, 1, dict(os.environ), cwd=logs)
        launcher.install()
        # The grandchild starts its own session (as a user server started by a hub does) and
        # ignores SIGTERM; the child itself just waits.
        script = "setsid sh -c 'trap \\"\\" TERM; echo $$ > grandchild.pid; while :; do sleep 1; done' & exec sleep 300"
        supervisor = Supervisor([ChildSpec(name="escaper", argv=["sh", "-c", script])],
                                SupervisorSettings(stop_timeout_s=4), launcher)
        await supervisor.start()
        (logs / "started").touch()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await supervisor.stop()

    asyncio.run(main())
    """
)


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip() and path.suffix == ".pid":
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def test_an_escaped_grandchild_is_killed_at_stop(tmp_path: Path) -> None:
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(tmp_path)])
    try:
        wait_for(tmp_path / "started")
        wait_for(tmp_path / "grandchild.pid")
        grandchild = psutil.Process(int((tmp_path / "grandchild.pid").read_text()))
        assert grandchild.is_running()
        assert os.getsid(grandchild.pid) != os.getsid(supervisor.pid)  # it really left the child's session
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=20) == 0
        grandchild.wait(timeout=5)  # raises TimeoutExpired if it survived
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
