"""A member's server's memory (appliance.hub.memory) and its state as the portal reads it (hub.client)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from appliance.hub.client import server_state
from appliance.hub.memory import process_tree_bytes

PARENT = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); " \
         "print('up', flush=True); time.sleep(30)"


def test_a_servers_memory_counts_its_kernels_too_and_a_gone_process_has_none() -> None:
    with subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE) as parent:
        try:
            assert parent.stdout is not None and parent.stdout.readline() == b"up\n"
            alone = psutil.Process(parent.pid).memory_info().rss
            total = process_tree_bytes(parent.pid)
            assert total is not None and total > alone  # the child (a kernel, in a server) is counted
        finally:
            for child in psutil.Process(parent.pid).children(recursive=True):
                child.kill()
            parent.kill()
    assert process_tree_bytes(parent.pid) is None


def test_the_state_of_the_default_server_from_jupyterhubs_user_model() -> None:
    def model(**server: object) -> dict[str, object]:
        return {"servers": {"": {"started": "t0", "last_activity": "t1", "url": "/u/", **server}}}

    assert server_state(None).state == "stopped"
    assert server_state({"servers": {}}).state == "stopped"
    assert server_state(model(ready=True, pending=None)).to_json() == {
        "state": "running", "since": "t0", "last_activity": "t1", "url": "/u/"}
    assert server_state(model(ready=False, pending="spawn")).state == "starting"
    assert server_state(model(ready=True, pending="stop")).state == "stopping"
