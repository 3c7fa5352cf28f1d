"""Sign-in to JupyterLab ready: the appliance against plain JupyterHub, on this box, in this run.

For each of N new members: the appliance path is sign-in at the portal → Research placement →
OAuth into the hub → spawn → JupyterLab's page and the server's /api/status answering. The baseline
is a plain JupyterHub (DummyAuthenticator, SimpleLocalProcessSpawner, its own configurable-http-proxy)
from its login form to the same two answers. Prints the median of each and the ratio.
Usage: .venv/bin/python bench/spawn.py [--members N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import Appliance, make_home, reserve_ports, stop_process  # noqa: E402
from tests.integration.lab import server_url  # noqa: E402
from tests.integration.oauth import Browser, add_user, browser_client, follow, log_in_through_hub  # noqa: E402

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
c.JupyterHub.implicit_spawn_seconds = 0.01
"""


def ready(client: httpx.Client, server: str) -> None:
    """JupyterLab's page has loaded; wait for the server's API to answer too."""
    while client.get(f"{server}/api/status").status_code != 200:
        time.sleep(0.02)


def appliance_member(appliance: Appliance, name: str) -> float:
    password = add_user(appliance, name)
    began = time.perf_counter()
    portal = Browser(appliance)
    portal.sign_in(name, password)
    hub = f"{appliance.proxy_url}/hubs/{portal.http.get('/api/discovery/v1/me').json()['hub']}"
    with browser_client(timeout=60) as client:
        log_in_through_hub(appliance, hub, name, password, client)
        landed = follow(client, f"{hub}/hub/spawn", poll_s=0.05)
        assert landed.status_code == 200, landed.status_code
        ready(client, server_url(landed))
    Browser.close_all()
    return time.perf_counter() - began


def baseline_member(url: str, name: str) -> float:
    began = time.perf_counter()
    with httpx.Client(follow_redirects=False, timeout=60) as client:
        page = client.get(f"{url}/hub/login")
        xsrf = client.cookies.get("_xsrf") or ""
        client.post(f"{url}/hub/login", data={"username": name, "password": "x", "_xsrf": xsrf})
        assert page.status_code == 200
        landed = follow(client, f"{url}/hub/spawn", poll_s=0.05)
        assert landed.status_code == 200, landed.status_code
        ready(client, f"{url}/user/{name}")
    return time.perf_counter() - began


def start_baseline(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A plain JupyterHub in ``workdir``; started there again, it keeps its ports, state and servers."""
    config = workdir / "jupyterhub_config.py"
    if not config.exists():
        port, hub_port, api_port = reserve_ports(3)
        config.write_text(textwrap.dedent(BASELINE_CONFIG).format(port=port, hub_port=hub_port, api_port=api_port))
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the baseline JupyterHub did not start:\n{(workdir / 'hub.log').read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    args = parser.parse_args()
    appliance = Appliance(make_home(), reserve_ports(4)).with_hubs(2)
    workdir = Path(tempfile.mkdtemp(prefix="bench-spawn-"))
    baseline = None
    try:
        appliance.up()
        baseline, url = start_baseline(workdir)
        ours, theirs = [], []
        for index in range(args.members):  # taking turns: this machine's speed drifts
            ours.append(appliance_member(appliance, f"bench{index}"))
            theirs.append(baseline_member(url, f"plain{index}"))
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"sign-in to JupyterLab ready, median of {args.members} new members")
        print(f"  appliance (portal, discovery, OAuth, hub, RemoteContentsManager): {o:.2f} s "
              f"(min {min(ours):.2f}, max {max(ours):.2f})")
        print(f"  plain JupyterHub (DummyAuthenticator, SimpleLocalProcessSpawner): {t:.2f} s "
              f"(min {min(theirs):.2f}, max {max(theirs):.2f})")
        print(f"  ratio appliance / plain: {o / t:.2f}")
    except Exception:
        for log in sorted((appliance.home / "logs").glob("hub-*.log")):
            lines = [line for line in log.read_text().splitlines() if "hub/api/ (@" not in line]  # not health checks
            print(f"--- {log.name}", *lines[-60:], sep="\n")
        raise
    finally:
        stop_process(baseline)
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
