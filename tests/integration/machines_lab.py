"""A lab of machines on a private network of their own, for tests/integration/test_lab_machines.py and
bench/scale_out.py (tests/machine.py: systemd-nspawn machines booted from one installed root, 10.77.0.0/24): the
portal's machine with its embedded PostgreSQL and one hub; a hub node that joined it with `appliance nodes token` /
`appliance join`, whose hub runs members' servers as Slurm jobs; and the lab's Slurm cluster, a controller that is
its one compute node. This machine is the members' browser: it reaches the portal's front proxy at the lab's domain
(lab.test, hub.lab.test and every member's host under it resolve to the portal's machine here, as a lab's DNS
would). The members' accounts are on the node and the compute node by the same uid, as a lab's directory (LDAP)
keeps them (Lab.add_account)."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.harness import DOMAINS
from tests.integration.lab import Member, join_command, server_url, start_server, wait_for
from tests.integration.oauth import Browser
from tests.integration.slurm import SLURM_CONF
from tests.machine import LAB_PACKAGES, Machine, PrivateNetwork, installed_root

CONFIG = "/etc/appliance/appliance.toml"
HOME = "/var/lib/appliance"
DOMAIN = "lab.test"
PORTAL_PORT, PROXY_PORT, POSTGRES_PORT = 8000, 8001, 8003
DEAD_AFTER_S = 4.0  # discovery's default: a powered-off node's members move after it
PORTAL_CONFIG = f"""[portal]
public_url = "http://{DOMAIN}:{PROXY_PORT}"
[hubs]
public_url = "http://hub.{DOMAIN}:{PROXY_PORT}"
count = 1
[proxy]
host = "0.0.0.0"
[nodes]
address = "{{address}}"
"""
NODE_CONFIG = """[hubs]
count = 1
spawner = "slurm"
memory_limit = "512M"
[slurm]
time_limit = "1:00:00"
"""
COMPUTE = "slurm"  # the Slurm machine's name: controller and compute node


@dataclass
class MachineAppliance:
    """An appliance installed on a machine of the lab, as the tests' helpers drive one (tests/harness.Appliance):
    its command line run there, its portal and hub origin as browsers here reach them."""

    machine: Machine
    public_portal_url: str = f"http://{DOMAIN}:{PROXY_PORT}"
    proxy_url: str = f"http://hub.{DOMAIN}:{PROXY_PORT}"

    @property
    def home(self) -> Path:
        return self.machine.root / HOME.lstrip("/")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.machine.run("appliance", *args, check=False, timeout=timeout)

    def healthy(self) -> bool:
        return self.cli("status", "--json").returncode == 0

    def hubs(self) -> dict[str, str]:
        listed = self.cli("hubs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        return {str(hub["id"]): str(hub["state"]) for hub in json.loads(listed.stdout)}


@dataclass
class Lab:
    network: PrivateNetwork
    portal: MachineAppliance
    node: MachineAppliance
    node_hub: str
    compute: Machine

    def running_job(self, account: str) -> tuple[str, str] | None:
        """(job id, node) of the account's running job, as squeue shows it."""
        listed = self.compute.run("squeue", "-h", "-u", account, "-t", "RUNNING", "-o", "%i %N").stdout.split()
        return (listed[0], listed[1]) if listed else None

    def add_account(self, name: str) -> None:
        """The member's account on the node and the compute node, by one uid (the lab's directory's part)."""
        account = f"jupyter-{name}"
        uid = str(30000 + len(self.accounts))
        self.accounts.append(account)
        home = f"{HOME}/members/{name}"
        for machine in (self.node.machine, self.compute):
            machine.run("useradd", "--uid", uid, "--user-group", "--home-dir", home, "--shell", "/bin/bash", account)
            machine.run("install", "-d", "-m", "0700", "-o", account, "-g", account, home)

    accounts: list[str] = field(default_factory=list)


def start(appliance: MachineAppliance) -> None:
    appliance.machine.run("systemctl", "enable", "--now", "appliance")
    wait_for(appliance.healthy, 180, f"the appliance on {appliance.machine.name} to be healthy")


@contextlib.contextmanager
def running_lab(network_name: str = "lab", subnet: str = "10.77.0.0/24") -> Iterator[Lab]:
    """The three machines booted from the installed template, the portal up, the node joined and up, Slurm idle;
    powered off after the block. Labs of other names and subnets run beside each other."""
    template = installed_root(LAB_PACKAGES)
    network = PrivateNetwork(network_name, subnet)
    try:
        portal = Machine(name="portal", network=network, template=template).prepare()
        node = Machine(name="node1", network=network, template=template).prepare()
        compute = Machine(name=COMPUTE, network=network, template=template).prepare()
        assert portal.address is not None and node.address is not None
        DOMAINS[DOMAIN] = portal.address
        portal.write(CONFIG, PORTAL_CONFIG.format(address=portal.address))
        node.write(CONFIG, NODE_CONFIG)
        for machine in (node, compute):  # the node submits jobs (Slurm's client), the compute node runs them
            machine.write("/etc/slurm/slurm.conf", SLURM_CONF.format(host=COMPUTE))
            # installed with --no-start, the service is enabled: the node's is started once it has joined, and the
            # compute node runs none (it needs the appliance's program only, at the same path, for the jobs)
            (machine.root / "etc/systemd/system/multi-user.target.wants/appliance.service").unlink()
        began = time.monotonic()
        for machine in (portal, node, compute):
            machine.boot()
        compute.run("systemctl", "restart", "munge", "slurmctld", "slurmd")
        node.run("systemctl", "restart", "munge")  # the same key as the cluster's: one installed root
        wait_for(lambda: " idle " in node.run("sinfo", "-h", check=False).stdout, 60, "the compute node to be idle")
        on_portal, on_node = MachineAppliance(portal), MachineAppliance(node)
        start(on_portal)
        url, token = join_command(on_portal)  # type: ignore[arg-type]
        assert url == f"http://{portal.address}:{PORTAL_PORT}"
        joined = on_node.cli("join", url, "--token", token, "--address", node.address)
        assert joined.returncode == 0, joined.stderr
        hub = re.search(r"with hubs (\d+)", joined.stdout)
        assert hub is not None, joined.stdout
        start(on_node)
        wait_for(lambda: on_portal.hubs().get(hub[1]) == "routable", 60, "the node's hub registering")
        print(f"\nthree machines of the template booted, Slurm idle, the portal up, the node joined and up: "
              f"{time.monotonic() - began:.0f} s")
        yield Lab(network, on_portal, on_node, hub[1], compute)
    finally:
        Browser.close_all()
        DOMAINS.pop(DOMAIN, None)
        network.destroy()


def saved_notebook(text: str) -> dict[str, object]:
    return {"type": "notebook", "format": "json", "content": {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": text, "id": "note"}], "metadata": {},
        "nbformat": 4, "nbformat_minor": 5}}


def xsrf_of(browser: httpx.Client, server: str) -> str:
    host = httpx.URL(server).host
    return next((cookie.value for cookie in browser.cookies.jar
                 if cookie.name == "_xsrf" and cookie.domain.lstrip(".") == host), "") or ""


def new_member_on(lab: Lab, hub_id: str, prefix: str) -> Member:
    """A new member, signed in at the portal while the other hub is drained: discovery places them on ``hub_id``,
    the node's (lab.node_hub) or the portal machine's own ("1")."""
    name = f"{prefix}{secrets.token_hex(3)}"
    other = "1" if hub_id == lab.node_hub else lab.node_hub
    if hub_id == lab.node_hub:
        lab.add_account(name)
    assert lab.portal.cli("hubs", "drain", other).returncode == 0
    try:
        member = Member.new(lab.portal, name)  # type: ignore[arg-type]
        assert member.hub_id() == hub_id
    finally:
        assert lab.portal.cli("hubs", "undrain", other).returncode == 0
    return member


def open_lab(lab: Lab, member: Member, hub_id: str, browser: httpx.Client) -> str:
    landed = start_server(lab.portal, f"{lab.portal.proxy_url}/hubs/{hub_id}", member.name,  # type: ignore[arg-type]
                          member.password, browser)
    return server_url(landed)


