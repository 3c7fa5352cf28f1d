"""Sign-in to JupyterLab ready: the appliance against plain JupyterHub, on this box, in this run.

For each of N new members: the appliance path is sign-in at the portal → Research placement →
OAuth into the hub → spawn → JupyterLab's page and the server's /api/status answering. The baseline
is a plain JupyterHub (DummyAuthenticator, SimpleLocalProcessSpawner, its own configurable-http-proxy)
from its login form to the same two answers. Prints the median of each and the ratio.
Usage: .venv/bin/python bench/spawn.py [--members N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_jupyterhub import ready, side_by_side  # noqa: E402

from tests.harness import Appliance  # noqa: E402
from tests.integration.lab import server_url  # noqa: E402
from tests.integration.oauth import Browser, add_user, browser_client, follow, log_in_through_hub  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    args = parser.parse_args()
    with side_by_side(hubs=2) as (appliance, url):
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


if __name__ == "__main__":
    main()
