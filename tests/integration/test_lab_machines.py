"""A lab of machines on a private network of their own (tests/machine.py: systemd-nspawn machines booted from one
installed root, 10.77.0.0/24): the portal's machine with its embedded PostgreSQL and one hub; a hub node that
joined it with `appliance nodes token` / `appliance join`, whose hub runs members' servers as Slurm jobs; and the
lab's Slurm cluster, a controller that is its one compute node. This machine is the members' browser: it reaches
the portal's front proxy at the lab's domain (lab.test, hub.lab.test and every member's host under it resolve to
the portal's machine here, as a lab's DNS would). The members' accounts are on the node and the compute node by the
same uid, as a lab's directory (LDAP) keeps them.

A member placed on the node's hub gets their JupyterLab as a Slurm job on the compute node (squeue shows it),
through the portal's front proxy and the node's, and what they save is in the portal's database; the node reaches
that database over TLS as a role of its own and nothing reaches it unencrypted or as its superuser; a scancel of
the job is seen and a new start gets a new job; powering the node off moves its member to the portal's hub within
the fail-over time, with what they saved."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.harness import DOMAINS
from tests.integration.lab import (
    Member,
    research_state,
    run_in_kernel,
    server_url,
    start_again,
    start_server,
    wait_for,
)
from tests.integration.oauth import Browser, browser_client
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


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    template = installed_root(LAB_PACKAGES)
    network = PrivateNetwork("lab")
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
        made = on_portal.cli("nodes", "token")
        assert made.returncode == 0, made.stderr
        found = re.search(r"appliance join (\S+) --token (\S+)", made.stdout)
        assert found is not None and found[1] == f"http://{portal.address}:{PORTAL_PORT}", made.stdout
        joined = on_node.cli("join", found[1], "--token", found[2], "--address", node.address)
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


def member_on_the_node(lab: Lab, prefix: str) -> Member:
    """A new member, signed in at the portal while the portal's own hub is drained: discovery places them on the
    node's hub."""
    name = f"{prefix}{secrets.token_hex(3)}"
    lab.add_account(name)
    assert lab.portal.cli("hubs", "drain", "1").returncode == 0
    try:
        member = Member.new(lab.portal, name)  # type: ignore[arg-type]
        assert member.hub_id() == lab.node_hub
    finally:
        assert lab.portal.cli("hubs", "undrain", "1").returncode == 0
    return member


def open_lab(lab: Lab, member: Member, hub_id: str, browser: httpx.Client) -> str:
    landed = start_server(lab.portal, f"{lab.portal.proxy_url}/hubs/{hub_id}", member.name,  # type: ignore[arg-type]
                          member.password, browser)
    return server_url(landed)


def test_a_member_on_the_nodes_hub_gets_jupyterlab_on_the_node_and_saves_into_the_portals_database(lab: Lab) -> None:
    portal = lab.portal
    member = member_on_the_node(lab, "n")
    with browser_client(timeout=120) as browser:
        server = open_lab(lab, member, lab.node_hub, browser)
        assert server.startswith(f"http://{member.name}.hub.{DOMAIN}:{PROXY_PORT}/hubs/{lab.node_hub}/user/")
        saved = browser.put(f"{server}/api/contents/on-node1.ipynb", headers={"X-XSRFToken": xsrf_of(browser, server)},
                            json=saved_notebook("saved on node1"))
        assert saved.status_code == 201, saved.text
        # the kernel runs in the member's job on the compute node, as their own account there
        where = run_in_kernel(browser, server, "import os, socket; print(socket.gethostname(), os.getuid(), "
                                               "os.environ['SLURM_JOB_ID'])", timeout=120)
    host, uid, job = where.split()
    assert (host, uid) == (COMPUTE, lab.node.machine.run("id", "-u", f"jupyter-{member.name}").stdout.strip())
    assert lab.running_job(f"jupyter-{member.name}") == (job, COMPUTE)
    exported = f"/root/exported-{member.name}"
    assert portal.cli("storage", "export", member.name, exported).returncode == 0
    assert "saved on node1" in (portal.machine.root / exported.lstrip("/") / "on-node1.ipynb").read_text()


def test_a_cancelled_job_is_seen_and_a_new_start_gets_a_new_job(lab: Lab) -> None:
    member = member_on_the_node(lab, "c")
    account = f"jupyter-{member.name}"
    with browser_client(timeout=120) as browser:
        open_lab(lab, member, lab.node_hub, browser)
    first = lab.running_job(account)
    assert first is not None and research_state(member) == "running"
    lab.compute.run("scancel", first[0])  # what the cluster's administrator, or the job's time limit, does
    seen_in = wait_for(lambda: research_state(member) == "stopped", 60, "the portal to see the job gone")
    print(f"\ncancelled job seen as a stopped server in {seen_in:.1f} s")
    start_again(member)
    second = lab.running_job(account)
    assert second is not None and second[0] != first[0]


def psql(machine: Machine, conninfo: str, password: str) -> subprocess.CompletedProcess[str]:
    return machine.run("env", f"PGPASSWORD={password}", "psql", conninfo, "-tAc", "SELECT ssl FROM pg_stat_ssl "
                       "WHERE pid = pg_backend_pid()", check=False, timeout=30)


def test_the_node_reaches_the_portals_database_over_verified_tls_as_its_own_role_and_nothing_else_does(
        lab: Lab) -> None:
    node = lab.node.machine
    address = lab.portal.machine.address
    ca = f"{HOME}/postgres-ca.pem"
    url = re.search(r'url = "postgresql://(node_\d+):([^@]+)@', (node.root / CONFIG.lstrip("/")).read_text())
    assert url is not None
    role, password = url[1], url[2]
    verified = psql(node, f"host={address} port={POSTGRES_PORT} dbname=appliance user={role} sslmode=verify-full "
                          f"sslrootcert={ca}", password)
    assert verified.returncode == 0 and verified.stdout.strip() == "t", verified.stderr
    plain = psql(node, f"host={address} port={POSTGRES_PORT} dbname=appliance user={role} sslmode=disable", password)
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain.stderr
    superuser = (lab.portal.home / "secrets" / "postgres-password").read_text().strip()
    refused = psql(node, f"host={address} port={POSTGRES_PORT} dbname=appliance user=appliance sslmode=verify-full "
                         f"sslrootcert={ca}", superuser)
    assert refused.returncode != 0 and "rejects connection" in refused.stderr, refused.stderr
    # the role of the node may not read members' notebooks
    reading = node.run("env", f"PGPASSWORD={password}", "psql", f"host={address} port={POSTGRES_PORT} "
                       f"dbname=appliance user={role} sslmode=verify-full sslrootcert={ca}", "-tAc",
                       "SELECT count(*) FROM storage.files", check=False, timeout=30)
    assert reading.returncode != 0 and "permission denied" in reading.stderr, reading.stderr


def test_powering_the_node_off_moves_its_member_to_the_portals_hub_with_what_they_saved(lab: Lab) -> None:
    member = member_on_the_node(lab, "p")
    with browser_client(timeout=120) as browser:
        server = open_lab(lab, member, lab.node_hub, browser)
        saved = browser.put(f"{server}/api/contents/last.ipynb", headers={"X-XSRFToken": xsrf_of(browser, server)},
                            json=saved_notebook("the last save before the power went"))
        assert saved.status_code == 201, saved.text
    lab.node.machine.power_off()
    moved_in = wait_for(lambda: member.hub_id() == "1", DEAD_AFTER_S + 20, "the member moving to the portal's hub")
    print(f"\nthe node powered off; its member placed on hub 1 after {moved_in:.1f} s")
    with browser_client(timeout=120) as browser:
        server = open_lab(lab, member, "1", browser)
        opened = browser.get(f"{server}/api/contents/last.ipynb")
        assert opened.status_code == 200, opened.text
        assert opened.json()["content"]["cells"][0]["source"] == "the last save before the power went"
