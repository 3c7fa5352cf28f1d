"""Members' servers as Slurm jobs (hubs.spawner = "slurm"), on a fresh Debian 12 machine with systemd
(tests/machine.py) that is its own Slurm cluster: Debian's slurmctld, slurmd and munge, one compute node, the
appliance installed by the installer. A member signed in at the portal gets a JupyterLab that runs as a job of
their own system user (squeue shows it, with the hubs' limits as its request); what they save is in
PostgreSQL; their job's server can say its port and nothing else; a scancel is seen by the hub, the Research
page says so, and a new start gets a new job.

The machine shares this one's network: Slurm's ports 6817-6818 are its own while it runs, and the jobs'
servers listen on loopback (slurm.job_ip)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness import reserve_ports
from tests.integration.lab import research_csrf as csrf
from tests.integration.lab import research_state as state
from tests.integration.lab import run_in_kernel, server_url, start_again, start_server, wait_for
from tests.integration.oauth import Browser, browser_client
from tests.integration.slurm import SLURM_CONF
from tests.machine import LAB_PACKAGES, Machine, installed_root

pytestmark = pytest.mark.machines  # tests/run runs them in a pytest process of their own

CONFIG = "/etc/appliance/appliance.toml"
MEMBERS_MEMORY = "512M"


@dataclass
class Cluster:
    """The machine, its appliance as this one reaches it, and what the installer said."""

    machine: Machine
    portal_url: str
    proxy_url: str
    public_portal_url: str
    home: Path

    def jobs(self) -> list[dict[str, str]]:
        """Every job Slurm knows of, finished ones too: id, user, state, node, memory, CPUs, time limit."""
        fields = ["id", "user", "state", "node", "memory", "cpus", "time_limit"]
        listed = self.machine.run("squeue", "-h", "-t", "all", "-o", "%i %u %T %B %m %C %l").stdout
        return [dict(zip(fields, line.split(), strict=True)) for line in listed.splitlines()]

    def running_job(self, account: str) -> dict[str, str] | None:
        return next((job for job in self.jobs() if job["user"] == account and job["state"] == "RUNNING"), None)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    machine = Machine(template=installed_root(LAB_PACKAGES)).prepare()  # the appliance and Slurm installed, not started
    portal, proxy, api, postgres = reserve_ports(4)
    machine.write(CONFIG, "\n".join([
        "[portal]", f"port = {portal}", "[proxy]", f"port = {proxy}", f"api_port = {api}",
        "[postgres]", f"port = {postgres}",
        "[hubs]", f"first_port = {reserve_ports(1)[0]}", "count = 1", 'spawner = "slurm"',
        f'memory_limit = "{MEMBERS_MEMORY}"',
        "[slurm]", 'job_ip = "127.0.0.1"', 'time_limit = "1:00:00"', ""]))
    host = (machine.root / "etc" / "hostname").read_text().strip()
    machine.write("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {host}\n")  # minbase has none; Slurm resolves it
    machine.write("/etc/slurm/slurm.conf", SLURM_CONF.format(host=host))
    try:
        began = time.monotonic()
        machine.boot()
        machine.run("systemctl", "restart", "munge", "slurmctld", "slurmd")
        wait_for(lambda: " idle " in machine.run("sinfo", "-h", check=False).stdout, 60, "the Slurm node to be idle")
        machine.run("systemctl", "start", "appliance")
        wait_for(lambda: machine.run("appliance", "status", check=False).returncode == 0, 180,
                 "the appliance to be healthy")
        print(f"\nan installed machine with Slurm, booted, to a healthy appliance: {time.monotonic() - began:.0f} s")
        yield Cluster(machine, f"http://127.0.0.1:{portal}", f"http://hub.lab.localhost:{proxy}",
                      f"http://lab.localhost:{proxy}", machine.root / "var/lib/appliance")
    finally:
        Browser.close_all()
        machine.destroy()


@dataclass
class Member:
    name: str
    portal: Browser
    browser: httpx.Client
    server: str  # their server's URL


@pytest.fixture
def open_lab(cluster: Cluster) -> Iterator[Callable[[str], Member]]:
    """Signs a new member in and opens their JupyterLab (sign_in_and_open_lab); their clients closed after."""
    opened: list[Member] = []

    def open_for(name: str) -> Member:
        opened.append(sign_in_and_open_lab(cluster, name))
        return opened[-1]

    yield open_for
    for member in opened:
        member.browser.close()
    Browser.close_all()


def sign_in_and_open_lab(cluster: Cluster, name: str) -> Member:
    password = cluster.machine.run("appliance", "users", "add", name).stdout.strip().rsplit(" ", 1)[-1]
    portal = Browser(cluster)  # type: ignore[arg-type]
    portal.sign_in(name, password)
    hub = f"{cluster.proxy_url}/hubs/{portal.http.get('/api/discovery/v1/me').json()['hub']}"
    browser = browser_client(timeout=120)
    landed = start_server(cluster, hub, name, password, browser)  # type: ignore[arg-type]
    return Member(name, portal, browser, server_url(landed))


def test_a_members_jupyterlab_runs_as_their_slurm_job_and_saves_into_postgresql(
        cluster: Cluster, open_lab: Callable[[str], Member]) -> None:
    assert [json.loads(cluster.machine.run("appliance", "status", "--json").stdout)["hubs"][0][key]
            for key in ("spawner", "isolation")] == ["slurm", "slurm"]
    member = open_lab("grace")
    assert urlsplit(member.server).hostname == "grace.hub.lab.localhost"
    job = cluster.running_job("jupyter-grace")
    assert job is not None, cluster.jobs()
    # the hubs' limits and the [slurm] section are the job's request
    assert (job["memory"], job["cpus"], job["time_limit"]) == (MEMBERS_MEMORY, "1", "1:00:00")
    xsrf = next(c.value for c in member.browser.cookies.jar if c.name == "_xsrf" and "/user/" in c.path)
    saved = member.browser.put(f"{member.server}/api/contents/from-a-job.ipynb", headers={"X-XSRFToken": xsrf or ""},
                               json={"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4,
                                                                     "nbformat_minor": 5}})
    assert saved.status_code == 201, saved.text
    in_the_job = run_in_kernel(member.browser, member.server,
                               "import os; print(os.environ['SLURM_JOB_ID'], os.getuid(), os.getcwd())", timeout=120)
    assert in_the_job.split()[0] == job["id"]
    cluster.machine.run("rm", "-rf", "/root/exported")
    cluster.machine.run("appliance", "storage", "export", "grace", "/root/exported")
    assert (cluster.machine.root / "root/exported/from-a-job.ipynb").is_file()  # from PostgreSQL, not a disk


def test_a_members_job_says_its_port_and_nothing_else(cluster: Cluster, open_lab: Callable[[str], Member]) -> None:
    """batchspawner's own API handler would set any attribute of the member's spawner that their job posts,
    the commands the hub runs as root at their next start included (hub/slurm.py)."""
    member = open_lab("mallory")
    printed = run_in_kernel(member.browser, member.server, r'''
import json, os, urllib.error, urllib.request
def post(body):
    request = urllib.request.Request(os.environ["JUPYTERHUB_API_URL"] + "/batchspawner", json.dumps(body).encode(),
                                     {"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}, method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
print(post({"exec_prefix": "touch /root/taken-over;", "port": 2000}), post({"port": 2000}),
      post({"batch_submit_cmd": "touch /root/taken-over"}))
''', timeout=120)
    assert printed.split() == ["400", "409", "400"], printed
    # the hub runs this member's next job as it ran the first: its commands were not changed
    stopped = member.portal.http.post("/api/research/v1/server/stop", headers={"X-CSRF-Token": csrf(member)})
    assert stopped.status_code in (200, 202), stopped.text
    wait_for(lambda: cluster.running_job("jupyter-mallory") is None, 60, "mallory's job to end")
    start_again(member)
    assert not (cluster.machine.root / "root" / "taken-over").exists()


def test_a_cancelled_job_is_seen_and_a_new_start_gets_a_new_job(cluster: Cluster,
                                                                open_lab: Callable[[str], Member]) -> None:
    member = open_lab("hopper")
    first = cluster.running_job("jupyter-hopper")
    assert first is not None
    assert state(member) == "running"
    cluster.machine.run("scancel", first["id"])  # what a cluster's administrator, or its time limit, does
    seen_in = wait_for(lambda: state(member) == "stopped", 60, "the portal to see hopper's job gone")
    print(f"\ncancelled job seen as a stopped server in {seen_in:.1f} s")
    start_again(member)
    second = cluster.running_job("jupyter-hopper")
    assert second is not None and second["id"] != first["id"]
