"""What an idle appliance costs: CPU seconds a minute of the appliance with its hubs and no member's server,
against a plain JupyterHub with its own configurable-http-proxy, idle side by side on this box in this run.

Both are started (bench/plain_jupyterhub.py), left to settle, then measured over the same window: every
process of each (the appliance's: the supervisor and all it started, PostgreSQL's backends included; the
plain hub's: JupyterHub and its proxy), their own CPU time and what they reaped from children that ended
meanwhile. Prints each side's CPU seconds a minute, the appliance's by component, and the ratio.
Usage: .venv/bin/python bench/idle.py [--hubs 2] [--seconds 120] [--settle 30]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_jupyterhub import side_by_side  # noqa: E402

from tests.harness import Appliance  # noqa: E402

Snapshot = dict[int, tuple[str, float, float]]  # pid -> (name, own CPU s, reaped children's CPU s)


def snapshot(processes: Iterable[psutil.Process]) -> Snapshot:
    found: Snapshot = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            found[process.pid] = (component(process), times.user + times.system,
                                  times.children_user + times.children_system)
    return found


def component(process: psutil.Process) -> str:
    """A process's part, for the breakdown: its supervisor child's name, or what it runs."""
    command = " ".join(process.cmdline())
    for marker, name in (("appliance.application.hub", "hub"), ("appliance.application.portal", "portal"),
                         ("appliance.application.renderer", "renderer"), ("renderjob", "renderer"),
                         ("configurable-http-proxy", "proxy"), ("appliance up", "supervisor"),
                         ("jupyterhub_idle_culler", "idle-culler"), ("jupyterhub", "jupyterhub")):
        if marker in command:
            return f"hub-{process.cmdline()[-1]}" if name == "hub" else name
    return "postgres" if process.username() == "postgres" or "postgres" in command else process.name()


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds between the snapshots, by component: what each live process used, what its parent reaped
    from children that ended meanwhile, and a process that started meanwhile from its start."""
    spent: dict[str, float] = collections.defaultdict(float)
    for pid, (name, own, reaped) in after.items():
        own_before, reaped_before = before[pid][1:] if pid in before else (0.0, reaped)
        spent[name] += (own - own_before) + (reaped - reaped_before)
    return dict(spent)


def tree(root: psutil.Process) -> list[psutil.Process]:
    return [root, *root.children(recursive=True)]


def plain_processes(url: str) -> list[psutil.Process]:
    """The plain JupyterHub serving ``url`` and all it started: its proxy listens on the URL's port."""
    port = int(url.rsplit(":", 1)[1])
    for connection in psutil.net_connections("tcp"):
        address = connection.laddr
        if connection.status == psutil.CONN_LISTEN and address and address.port == port and connection.pid:
            hub = psutil.Process(connection.pid).parent()
            if hub is not None:
                return tree(hub)
    raise RuntimeError(f"nothing listens on {url}")


def appliance_processes(appliance: Appliance) -> list[psutil.Process]:
    """The supervisor (`appliance up`) and every process it started (they carry its mark)."""
    assert appliance.process is not None
    return [psutil.Process(appliance.process.pid), *appliance.processes()]


def per_minute(seconds: float, window_s: float) -> float:
    return seconds * 60 / window_s


def measure(appliance: Appliance, plain_url: str, window_s: float) -> dict[str, object]:
    plain = plain_processes(plain_url)
    theirs, ours = snapshot(plain), snapshot(appliance_processes(appliance))
    began = time.monotonic()
    time.sleep(window_s)
    theirs_after, ours_after = snapshot(plain), snapshot(appliance_processes(appliance))
    window_s = time.monotonic() - began
    appliance_parts, plain_parts = used(ours, ours_after), used(theirs, theirs_after)
    appliance_total, plain_total = sum(appliance_parts.values()), sum(plain_parts.values())
    print(f"idle CPU over {window_s:.0f} s, in CPU seconds a minute (share of one core)")
    for label, total in (("appliance", appliance_total), ("plain JupyterHub", plain_total)):
        print(f"  {label:<17} {per_minute(total, window_s):6.2f} s/min ({total / window_s:.1%})")
    for label, parts in (("appliance", appliance_parts), ("plain JupyterHub", plain_parts)):
        shown = ", ".join(f"{name} {per_minute(value, window_s):.2f}" for name, value in
                          sorted(parts.items(), key=lambda item: -item[1]))
        print(f"  {label} by part: {shown}")
    print(f"  ratio appliance / plain JupyterHub: {appliance_total / plain_total:.2f}x")
    return {"window_s": window_s, "appliance": {k: per_minute(v, window_s) for k, v in appliance_parts.items()},
            "plain": {k: per_minute(v, window_s) for k, v in plain_parts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=120, help="the measured window")
    parser.add_argument("--settle", type=float, default=30, help="seconds left idle before measuring")
    parser.add_argument("--out", type=Path, help="also write the figures here, as JSON (for bench/report.py)")
    arguments = parser.parse_args()
    with side_by_side(arguments.hubs) as (appliance, plain_url):
        time.sleep(arguments.settle)  # the start's own work (migrations, first heartbeats, JIT of the proxy) ends
        figures = measure(appliance, plain_url, arguments.seconds)
    if arguments.out:
        arguments.out.write_text(json.dumps({"hubs": arguments.hubs, **figures}, indent=1))


if __name__ == "__main__":
    main()
