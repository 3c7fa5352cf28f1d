"""The baseline the benches measure the appliance against: a plain JupyterHub on this box, in the same run.

DummyAuthenticator (any password), SimpleLocalProcessSpawner (its users' homes in the hub's folder, removed
with it), JupyterLab as the default URL and its own configurable-http-proxy, on 127.0.0.1. ``side_by_side``
starts the appliance and the baseline together, prints the appliance's hub logs if the bench fails, and
stops every process either of them started.
Used by bench/spawn.py, bench/failover.py and bench/browser.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import Appliance, make_home, reserve_ports, resolve_localhost_names, stop_process  # noqa: E402

START_TIMEOUT_S = 60
BASELINE_CONFIG = """
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"]
c.SimpleLocalProcessSpawner.home_dir_template = "{homes}/{{username}}"  # not /tmp/{{username}}, kept between runs
c.JupyterHub.implicit_spawn_seconds = 0.01
"""


def ready(client: httpx.Client, server: str) -> None:
    """JupyterLab's page has loaded; wait for the server's API to answer too."""
    while client.get(f"{server}/api/status").status_code != 200:
        time.sleep(0.02)


def start_baseline(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A plain JupyterHub in ``workdir``; started there again, it keeps its ports, state and servers."""
    config = workdir / "jupyterhub_config.py"
    if not config.exists():
        port, hub_port, api_port = reserve_ports(3)
        config.write_text(textwrap.dedent(BASELINE_CONFIG).format(port=port, hub_port=hub_port, api_port=api_port,
                                                                  homes=workdir / "homes"))
        (workdir / "port").write_text(str(port))
    port = int((workdir / "port").read_text())
    venv_bin = Path(sys.executable).parent
    if not (workdir / "proxy-token").exists():
        (workdir / "proxy-token").write_text(secrets.token_hex(16))
    env = {**os.environ, "PATH": f"{venv_bin.parent / 'node_modules' / '.bin'}:{venv_bin}:{os.environ['PATH']}",
           "CONFIGPROXY_AUTH_TOKEN": (workdir / "proxy-token").read_text()}
    log = open(workdir / "hub.log", "ab")  # noqa: SIM115 - lives as long as the hub
    process = subprocess.Popen([str(venv_bin / "jupyterhub")], cwd=workdir, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the baseline JupyterHub did not start within {START_TIMEOUT_S} s:\n"
                       f"{(workdir / 'hub.log').read_text()[-2000:]}")


def stop_baseline(process: subprocess.Popen[bytes] | None) -> None:
    """Stop the plain JupyterHub (it stops its users' servers and its proxy), then kill whatever of its
    descendants (servers, kernels, the proxy) outlived it."""
    if process is None:
        return
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    stop_process(process)
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            child.kill()


def print_hub_logs(appliance: Appliance) -> None:
    for log in sorted((appliance.home / "logs").glob("hub-*.log")):
        lines = log.read_text().splitlines()
        print(f"--- {log.name}", *lines[-60:], sep="\n")


@contextlib.contextmanager
def side_by_side(hubs: int) -> Iterator[tuple[Appliance, str]]:
    """The appliance with ``hubs`` hubs and a plain JupyterHub, both up: (the appliance, the plain hub's URL)."""
    resolve_localhost_names()  # the bench's own HTTP clients ask for lab.localhost too
    appliance = Appliance(make_home(), reserve_ports(4)).with_hubs(hubs)
    workdir = Path(tempfile.mkdtemp(prefix="bench-plain-jupyterhub-"))
    baseline = None
    try:
        appliance.up()
        baseline, url = start_baseline(workdir)
        yield appliance, url
    except BaseException:
        print_hub_logs(appliance)
        raise
    finally:
        stop_baseline(baseline)
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
