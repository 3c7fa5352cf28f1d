"""Machines of a lab on a private network of their own (tests/machine.py): two machines booted from the installed
template, each a host with its own name, address and loopback. They reach each other by address and by name,
this machine (the test process) reaches both at their addresses, what one serves on its loopback only is out of
the other's and this machine's reach, and destroying the network leaves no machine, bridge or interface behind."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.lab import wait_for
from tests.machine import LAB_PACKAGES, Machine, PrivateNetwork, installed_root

pytestmark = pytest.mark.machines  # tests/run runs them in a pytest process of their own

PUBLIC, LOOPBACK = 8080, 8081  # what each machine serves on every address, and on 127.0.0.1 alone
# A page fetched from inside a machine, or why nothing answered (no proxy: the network is the machines' own)
FETCH = """import sys, urllib.request
try:
    print(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=5).read().decode())
except OSError as error:
    print(f"unreachable: {error}")
"""


@dataclass
class Lab:
    network: PrivateNetwork
    machines: list[Machine]
    tokens: dict[str, str]  # machine name: what it serves on its network address ("loopback-" + it on loopback)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    template = installed_root(LAB_PACKAGES)
    network = PrivateNetwork("labnet")
    tokens: dict[str, str] = {}
    try:
        machines = [Machine(name=name, network=network, template=template).prepare() for name in ("portal", "node1")]
        for machine in machines:
            assert machine.name is not None
            tokens[machine.name] = f"{machine.name}-{uuid.uuid4().hex}"
            machine.write("/srv/public/token", tokens[machine.name])
            machine.write("/srv/loopback/token", f"loopback-{tokens[machine.name]}")
            machine.boot()
            machine.run("systemd-run", "--unit=public", "python3", "-m", "http.server", str(PUBLIC),
                        "--bind", "0.0.0.0", "--directory", "/srv/public")
            machine.run("systemd-run", "--unit=loopback", "python3", "-m", "http.server", str(LOOPBACK),
                        "--bind", "127.0.0.1", "--directory", "/srv/loopback")
        for machine in machines:
            for port in (PUBLIC, LOOPBACK):
                url = f"http://127.0.0.1:{port}/token"
                wait_for(lambda machine=machine, url=url: not fetch(machine, url).startswith("unreachable:"), 30,
                         f"{machine.name}'s server on port {port}")
        yield Lab(network, machines, tokens)
    finally:
        network.destroy()


def fetch(machine: Machine, url: str) -> str:
    return machine.run("python3", "-c", FETCH, url).stdout.strip()


def fetch_here(url: str) -> str:
    try:
        with httpx.Client(trust_env=False, timeout=5) as client:
            return client.get(url).text
    except httpx.TransportError as error:
        return f"unreachable: {error!r}"


def test_each_machine_is_a_host_of_its_own(lab: Lab) -> None:
    portal, node = lab.machines
    assert (portal.address, node.address) == ("10.77.0.2", "10.77.0.3")
    for machine in lab.machines:
        assert machine.run("hostname").stdout.strip() == machine.name
        assert machine.run("hostname", "-I").stdout.split() == [machine.address]
        assert f"inet {machine.address}/24" in machine.run("ip", "-4", "addr", "show", "host0").stdout
    ids = {machine.run("cat", "/etc/machine-id").stdout for machine in lab.machines}
    assert len(ids) == 2  # copies of one template, yet two machines to systemd


def test_the_machines_reach_each_other_by_address_and_by_name(lab: Lab) -> None:
    portal, node = lab.machines
    assert fetch(portal, f"http://{node.address}:{PUBLIC}/token") == lab.tokens["node1"]
    assert fetch(portal, f"http://node1:{PUBLIC}/token") == lab.tokens["node1"]
    assert fetch(node, f"http://{portal.address}:{PUBLIC}/token") == lab.tokens["portal"]
    assert fetch(node, f"http://portal:{PUBLIC}/token") == lab.tokens["portal"]
    assert node.run("getent", "hosts", "portal").stdout.split() == [portal.address, "portal"]


def test_this_machine_reaches_every_machine_at_its_address(lab: Lab) -> None:
    for machine in lab.machines:
        assert machine.name is not None
        assert fetch_here(f"http://{machine.address}:{PUBLIC}/token") == lab.tokens[machine.name]


def test_what_a_machine_serves_on_its_loopback_is_its_own(lab: Lab) -> None:
    portal, node = lab.machines
    for machine, other in ((portal, node), (node, portal)):
        assert machine.name is not None and other.name is not None
        assert fetch(machine, f"http://127.0.0.1:{LOOPBACK}/token") == f"loopback-{lab.tokens[machine.name]}"
        # the other machine's loopback is not this one's, nor is the port open on its address
        assert fetch(machine, f"http://{other.address}:{LOOPBACK}/token").startswith("unreachable:")
        assert fetch(machine, f"http://{other.name}:{LOOPBACK}/token").startswith("unreachable:")
        assert lab.tokens[machine.name] not in fetch_here(f"http://127.0.0.1:{LOOPBACK}/token")
        assert fetch_here(f"http://{machine.address}:{LOOPBACK}/token").startswith("unreachable:")


def test_destroying_the_network_leaves_nothing_behind(lab: Lab) -> None:
    nspawns = [machine.nspawn.pid for machine in lab.machines if machine.nspawn is not None]
    interfaces = [lab.network.bridge, *[machine.veth for machine in lab.machines if machine.veth]]
    assert len(nspawns) == 2 and len(interfaces) == 3
    assert all(shown(interface) for interface in interfaces)
    folders = [machine.dir for machine in lab.machines]
    lab.network.destroy()
    assert not any(psutil.pid_exists(pid) for pid in nspawns)
    assert not [process for process in psutil.process_iter(["cmdline"])
                if f"--network-bridge={lab.network.bridge}" in (process.info["cmdline"] or [])]
    assert not any(shown(interface) for interface in interfaces)
    assert not any(folder.exists() for folder in folders)
    mounts = Path("/proc/mounts").read_text()
    assert not any(str(folder) in mounts for folder in folders)
    assert lab.network.machines == []


def shown(interface: str) -> bool:
    return subprocess.run(["ip", "link", "show", interface], capture_output=True).returncode == 0
