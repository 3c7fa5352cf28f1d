"""The lab of machines (tests/integration/machines_lab.py: the portal's machine, a hub node, a Slurm compute node on
a private network) as its members and its administrator meet it.

A member placed on the node's hub gets their JupyterLab as a Slurm job on the compute node (squeue shows it),
through the portal's front proxy and the node's, and what they save is in the portal's database; the node reaches
that database over TLS as a role of its own and nothing reaches it unencrypted or as its superuser; a scancel of
the job is seen and a new start gets a new job; powering the node off moves its member to the portal's hub within
the fail-over time, with what they saved."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.lab import research_state, run_in_kernel, start_again, wait_for
from tests.integration.machines_lab import (
    COMPUTE,
    CONFIG,
    DEAD_AFTER_S,
    DOMAIN,
    HOME,
    POSTGRES_PORT,
    PROXY_PORT,
    Lab,
    new_member_on,
    open_lab,
    running_lab,
    saved_notebook,
    xsrf_of,
)
from tests.integration.oauth import browser_client
from tests.machine import Machine

pytestmark = pytest.mark.machines  # tests/run runs them in a pytest process of their own


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with running_lab() as started:
        yield started


def test_a_member_on_the_nodes_hub_gets_jupyterlab_on_the_node_and_saves_into_the_portals_database(lab: Lab) -> None:
    portal = lab.portal
    member = new_member_on(lab, lab.node_hub, "n")
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
    member = new_member_on(lab, lab.node_hub, "c")
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


def psql(machine: Machine, conninfo: str, password: str,
         query: str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") -> subprocess.CompletedProcess[str]:
    return machine.run("env", f"PGPASSWORD={password}", "psql", conninfo, "-tAc", query, check=False, timeout=30)


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
    reading = psql(node, f"host={address} port={POSTGRES_PORT} dbname=appliance user={role} sslmode=verify-full "
                         f"sslrootcert={ca}", password, "SELECT count(*) FROM storage.files")
    assert reading.returncode != 0 and "permission denied" in reading.stderr, reading.stderr


def test_powering_the_node_off_moves_its_member_to_the_portals_hub_with_what_they_saved(lab: Lab) -> None:
    member = new_member_on(lab, lab.node_hub, "p")
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
