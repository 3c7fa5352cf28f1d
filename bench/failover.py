"""A member's hub killed or frozen, to their JupyterLab answering again: the appliance against a plain JupyterHub
restarted at once (as systemd's Restart=always would), on this box, in this run.

"Answering again" is what a member who reloads the page needs: a new browser signs in through the hub
and reaches a JupyterLab whose API answers. Meanwhile an open JupyterLab (the browser that started the
server) keeps calling its server's API every 50 ms: the longest run of failed calls is printed too (when
the member is moved, their old server stops answering for good once its hub is declared dead).
Four cases, each the median of N kills:
- the appliance, the hub restarted by the supervisor (the member keeps their hub and server);
- the appliance, the hub staying down (tests/integration/lab.hub_kept_down: its restarts fail, and the supervisor
  says so): the member is moved to the other hub and gets a new server there;
- the appliance, the hub frozen (SIGSTOP): declared dead after discovery.dead_after_s of silence, the member is
  moved; when it runs again it fences itself (stops its servers) and restarts;
- plain JupyterHub (DummyAuthenticator, SimpleLocalProcessSpawner, its own proxy), restarted at once.
Usage: .venv/bin/python bench/failover.py [--kills N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_jupyterhub import ready, start_baseline  # noqa: E402

from tests.harness import Appliance, make_home, reserve_ports, resolve_localhost_names, stop_process  # noqa: E402
from tests.integration.lab import Member, hub_kept_down, server_url, start_server  # noqa: E402
from tests.integration.oauth import Browser, browser_client, follow  # noqa: E402


class OpenLab:
    """An open JupyterLab's calls to its server, every 50 ms; the longest stretch they failed."""

    def __init__(self, client: httpx.Client, server: str):
        self.client, self.server = client, server
        self.longest_outage_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing_since = None
        while not self._stop.is_set():
            try:
                ok = self.client.get(f"{self.server}/api/contents?content=0", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            now = time.monotonic()
            if ok and failing_since is not None:
                self.longest_outage_s = max(self.longest_outage_s, now - failing_since)
                failing_since = None
            elif not ok and failing_since is None:
                failing_since = now
            time.sleep(0.05)
        if failing_since is not None:
            self.longest_outage_s = max(self.longest_outage_s, time.monotonic() - failing_since)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.longest_outage_s


def until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.05)


def appliance_kill(appliance: Appliance, name: str, how: str) -> tuple[float, float]:
    """Seconds from the member's hub failing (``how``: "killed" and restarted, "down" for good, or "frozen" by
    SIGSTOP) to a new sign-in reaching a working JupyterLab, and the open JupyterLab's longest outage."""
    member = Member.new(appliance, name)
    password, hub_id = member.password, member.hub_id()
    moves = how in ("down", "frozen")
    with browser_client() as opened:
        lab = OpenLab(opened, server_url(start_server(appliance, f"{appliance.proxy_url}/hubs/{hub_id}", name,
                                                      password, opened)))
        time.sleep(0.5)
        down = contextlib.ExitStack()
        pid = appliance.component(f"hub-{hub_id}")["pid"]
        if how == "down":
            down.enter_context(hub_kept_down(appliance, hub_id))
        elif how == "frozen":
            os.kill(pid, signal.SIGSTOP)
            down.callback(os.kill, pid, signal.SIGCONT)  # it fences itself (its epoch is over), and restarts
        else:
            os.kill(pid, signal.SIGKILL)
        began = time.perf_counter()
        if moves:
            until(lambda: member.hub_id() != hub_id)
            hub_id = member.hub_id()
        hub = f"{appliance.proxy_url}/hubs/{hub_id}"
        while True:  # a reload: the whole sign-in through the hub, to the member's running JupyterLab
            with browser_client() as reloaded:
                try:
                    ready(reloaded, server_url(start_server(appliance, hub, name, password, reloaded)))
                    break
                except (AssertionError, httpx.HTTPError, KeyError):
                    time.sleep(0.05)
        answered = time.perf_counter() - began
        outage = lab.stop()
        down.close()  # a hub kept down may start again; a frozen one runs again
    Browser.close_all()
    appliance.wait_healthy()
    return answered, outage


def baseline_kill(workdir: Path, name: str) -> tuple[float, float]:
    process, url = start_baseline(workdir)
    try:
        with httpx.Client(follow_redirects=False, timeout=30) as opened:
            log_in(opened, url, name)
            lab = OpenLab(opened, f"{url}/user/{name}")
            time.sleep(0.5)
            process.send_signal(signal.SIGKILL)
            process.wait()
            began = time.perf_counter()
            process, _ = start_baseline(workdir)
            while True:
                with httpx.Client(follow_redirects=False, timeout=30) as reloaded:
                    try:
                        log_in(reloaded, url, name)
                        break
                    except (AssertionError, httpx.HTTPError):
                        time.sleep(0.05)
            answered = time.perf_counter() - began
            outage = lab.stop()
    finally:
        stop_process(process)
        subprocess.run(["pkill", "-f", f"configurable-http-proxy.*{url.rsplit(':', 1)[-1]}"], check=False)
    return answered, outage


def log_in(client: httpx.Client, url: str, name: str) -> None:
    page = client.get(f"{url}/hub/login")
    assert page.status_code == 200
    client.post(f"{url}/hub/login", data={"username": name, "password": "x", "_xsrf": client.cookies.get("_xsrf")})
    landed = follow(client, f"{url}/hub/spawn", poll_s=0.05)
    assert landed.status_code == 200, landed.status_code
    ready(client, f"{url}/user/{name}")


def report(label: str, runs: list[tuple[float, float]], moved: bool = False) -> float:
    answered = [a for a, _ in runs]
    median = statistics.median(answered)
    open_lab = ("the open JupyterLab was left behind" if moved else
                f"the open JupyterLab's longest outage {max(o for _, o in runs):.2f} s")
    print(f"  {label:<62} {median:5.2f} s (min {min(answered):.2f}, max {max(answered):.2f}); {open_lab}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the figures here, as JSON (for bench/report.py)")
    args = parser.parse_args()
    resolve_localhost_names()  # the trial names (lab.localhost, hub.lab.localhost, …) as browsers resolve them
    restarting = Appliance(make_home(), reserve_ports(4)).with_hubs(2)
    staying_down = Appliance(make_home(), reserve_ports(4)).with_hubs(2)
    staying_down.env["APPLIANCE_SUPERVISOR_BACKOFF_MAX_S"] = "2"  # back soon after hub_kept_down's block
    workdir = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    try:
        restarting.up()
        staying_down.up()
        ours, moved, frozen, theirs = [], [], [], []
        for index in range(args.kills):  # taking turns: this machine's speed drifts
            ours.append(appliance_kill(restarting, f"kill{index}", "killed"))
            theirs.append(baseline_kill(workdir, f"plain{index}"))
            moved.append(appliance_kill(staying_down, f"moved{index}", "down"))
            frozen.append(appliance_kill(staying_down, f"frozen{index}", "frozen"))
        print(f"the member's hub fails, to a new sign-in reaching a working JupyterLab, median of {args.kills}")
        o = report("appliance, SIGKILL, hub restarted by the supervisor", ours)
        m = report("appliance, SIGKILL, hub stays down (member moved)", moved, moved=True)
        f = report("appliance, SIGSTOP, hub frozen past dead_after (member moved)", frozen, moved=True)
        t = report("plain JupyterHub, SIGKILL, restarted at once", theirs)
        print(f"  ratio to plain: appliance restarted {o / t:.2f}, moved {m / t:.2f}, frozen {f / t:.2f}")
        if args.out:
            cases = {"killed, restarted": ours, "killed, stays down": moved, "frozen past dead_after": frozen,
                     "plain JupyterHub, restarted": theirs}
            args.out.write_text(json.dumps({label: {"answered_s": [a for a, _ in runs],
                                                    "open_lab_outage_s": [o for _, o in runs]}
                                            for label, runs in cases.items()}, indent=1))
    finally:
        for appliance in (restarting, staying_down):
            appliance.terminate()
            shutil.rmtree(appliance.home.parent, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
