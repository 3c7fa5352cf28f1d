"""Scaling out onto the lab's Slurm cluster: sign-in to JupyterLab ready when the member's server is a Slurm job on
the lab's compute node (placed on the hub node's hub) against when it is started on the portal's machine by its own
hub (the systemd spawner), in the same run on the same lab of machines (tests/integration/machines_lab.py: the
portal's machine, a hub node, a Slurm controller and compute node on a private network); and members per node.

Each member is a new account; the clock runs from the portal's sign-in form through the hub's OAuth and spawn to the
JupyterLab page (start_server), members one after another, alternating the two. Every member's server is then left
running with one idle kernel, and the resident memory of the member's processes is read on the machine that runs
them: members per compute node = its memory (slurm.conf's RealMemory) / that, and by the jobs' request
(hubs.memory_limit), which is what Slurm admits.
Usage: .venv/bin/python bench/scale_out.py [--members N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import resolve_localhost_names  # noqa: E402
from tests.integration.lab import start_server  # noqa: E402
from tests.integration.machines_lab import NODE_CONFIG, Lab, new_member_on, running_lab, xsrf_of  # noqa: E402
from tests.integration.oauth import Browser, browser_client  # noqa: E402
from tests.integration.slurm import SLURM_CONF  # noqa: E402
from tests.machine import Machine  # noqa: E402


def sign_in_to_lab(lab: Lab, hub_id: str, name: str, password: str) -> float:
    """Seconds from the portal's sign-in form to the member's JupyterLab page; a kernel is then started and left."""
    browser = browser_client(timeout=180)
    began = time.perf_counter()
    landed = start_server(lab.portal, f"{lab.portal.proxy_url}/hubs/{hub_id}", name, password,  # type: ignore[arg-type]
                          browser)
    took = time.perf_counter() - began
    server = str(landed.url.copy_with(query=None)).removesuffix("/lab")
    started = browser.post(f"{server}/api/kernels", headers={"X-XSRFToken": xsrf_of(browser, server)},
                           json={"name": "python3"})
    assert started.status_code == 201, started.text
    browser.close()
    return took


def resident_mb(machine: Machine, account: str, unit_prefix: str | None = None) -> float:
    """The resident memory of the member's processes: their account's, or those of their server's systemd unit (the
    systemd spawner runs a server in a unit of its own, as a user of the unit's)."""
    if unit_prefix is None:
        listed = machine.run("ps", "-o", "rss=", "-u", account, check=False).stdout.split()
        return sum(int(kb) for kb in listed) / 1024
    rows = [line.split() for line in machine.run("ps", "-eo", "rss=,unit=", check=False).stdout.splitlines()]
    return sum(int(row[0]) for row in rows if len(row) == 2 and row[1].startswith(unit_prefix)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3, help="members of each kind (default 3)")
    args = parser.parse_args()
    resolve_localhost_names()
    with running_lab("bench", "10.79.0.0/24") as lab:
        times: dict[str, list[float]] = {"local": [], "slurm": []}
        memory: dict[str, list[float]] = {"local": [], "slurm": []}
        for _ in range(args.members):
            for kind, hub_id, machine in (("local", "1", lab.portal.machine), ("slurm", lab.node_hub, lab.compute)):
                member = new_member_on(lab, hub_id, kind[0])
                name = member.name
                times[kind].append(sign_in_to_lab(lab, hub_id, name, member.password))
                time.sleep(5)  # the kernel settled
                unit = f"appliance-hub1-{name}" if kind == "local" else None
                memory[kind].append(resident_mb(machine, f"jupyter-{name}", unit))
        Browser.close_all()
    local, slurm = statistics.median(times["local"]), statistics.median(times["slurm"])
    node_mb = int(re.search(r"RealMemory=(\d+)", SLURM_CONF)[1])  # type: ignore[index]
    request = re.search(r'memory_limit = "(\d+)M"', NODE_CONFIG)
    request_mb = int(request[1]) if request else 0
    per_member = statistics.median(memory["slurm"])
    each = {kind: ", ".join(f"{took:.1f}" for took in taken) for kind, taken in times.items()}
    print(f"sign-in to JupyterLab ready, median of {args.members} new members each "
          f"(local {each['local']}; slurm {each['slurm']})")
    print(f"  the portal machine's own hub, systemd spawner: {local:.2f} s")
    print(f"  the hub node's hub, a Slurm job on the compute node: {slurm:.2f} s")
    print(f"  ratio slurm / local: {slurm / local:.2f}")
    print(f"a member's server with one idle kernel, resident: local {statistics.median(memory['local']):.0f} MB, "
          f"slurm job {per_member:.0f} MB")
    print(f"members per compute node of {node_mb} MB: {node_mb // request_mb} by the jobs' request of {request_mb} MB "
          f"(what Slurm admits), {node_mb / per_member:.0f} by what they use")


if __name__ == "__main__":
    main()
