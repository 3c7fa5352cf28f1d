"""`appliance upgrade` on a running lab: --check says what would change; the upgrade restarts the portal, the
renderer and each hub in turn on the installed code while a member's open JupyterLab keeps answering (polled
every 100 ms, as JupyterLab does) and another member signs in again and again without one failure; one whose
migration the running release cannot run beside is refused and changes nothing. (The installer runs it after
installing a new version: test_fresh_machine.)"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from functools import partial

import psutil
import psycopg
import pytest

from appliance import __version__
from appliance.db.pool import libpq_url
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import MemberServer, Poller, jupyterlab_answers, run_in_kernel, user_servers
from tests.integration.oauth import Browser, add_user, signs_in_afresh

RESTARTED = ["portal", "renderer", "hub-1", "hub-2"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=2)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def test_the_check_says_what_would_change_and_the_upgrade_keeps_jupyterlab_answering(lab: Appliance) -> None:
    check = lab.cli("upgrade", "--check")
    assert check.returncode == 0, check.stderr
    assert "nothing to migrate" in check.stdout
    assert "Plan: migrate, then restart portal, renderer, hub-1, hub-2, one at a time" in check.stdout

    server = MemberServer(lab, f"up{secrets.token_hex(3)}")
    [member_process] = user_servers(server.name)
    newcomer = f"in{secrets.token_hex(3)}"
    password = add_user(lab, newcomer)

    before = lab.component_pids()
    poller = Poller(partial(jupyterlab_answers, server.browser, server.url), every_s=0.1)
    sign_ins = Poller(partial(signs_in_afresh, lab.public_portal_url, newcomer, password), every_s=0.2)
    poller.start()
    sign_ins.start()
    upgraded = lab.cli("upgrade", timeout=600)
    time.sleep(1)
    poller.finish()
    sign_ins.finish()
    server.browser.close()
    print(f"\nrolling upgrade: {upgraded.stdout.strip().splitlines()[-1]} {poller.answers.count(False)} of "
          f"{len(poller.answers)} polls failed, at most {poller.failures_in_a_row()} in a row; "
          f"{sign_ins.answers.count(False)} of {len(sign_ins.answers)} sign-ins failed")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "Upgraded to" in upgraded.stdout
    after = lab.component_pids()
    assert sorted(name for name in before if after[name] != before[name]) == sorted(RESTARTED)  # not postgres, proxy
    said = [line.strip() for line in upgraded.stdout.splitlines() if line.strip().startswith("restarting ")]
    assert said == [f"restarting {name} on {__version__}" for name in RESTARTED]  # one at a time, in this order
    assert len(poller.answers) > 50 and poller.failures_in_a_row() <= 1, poller.answers  # one retry at most
    assert len(sign_ins.answers) > 10 and all(sign_ins.answers), sign_ins.answers  # the portal refused none
    assert user_servers(server.name) == [member_process]  # the same server, never restarted
    audit = lab.cli("audit", "--action", "hub.restarted", "--json")
    assert audit.stdout.count("hub.restarted") == 2, audit.stdout


def test_an_upgrade_the_running_release_cannot_run_beside_is_refused_and_changes_nothing(lab: Appliance) -> None:
    with psycopg.connect(libpq_url(lab.database_url()), autocommit=True) as connection:
        [head] = connection.execute("SELECT version_num FROM alembic_version").fetchone() or [""]
        connection.execute("UPDATE alembic_version SET version_num = '0003'")  # as if made by an old release
        try:
            before = lab.component_pids()
            check = lab.cli("upgrade", "--check")
            assert check.returncode == 2, check.stdout + check.stderr
            assert "0004 storage: sealed bytes move to immutable blobs" in check.stdout
            assert "NOT backwards compatible" in check.stdout and "Plan: needs downtime" in check.stdout

            refused = lab.cli("upgrade")
            assert refused.returncode == 1
            assert "this upgrade is refused: migration 0004 (storage: sealed bytes" in refused.stderr, refused.stderr
            assert "Nothing was changed." in refused.stderr and "--with-downtime" in refused.stderr
            assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
            assert lab.component_pids() == before
        finally:
            connection.execute("UPDATE alembic_version SET version_num = %s", (head,))


def test_only_the_supervisor_and_the_portal_hold_the_portals_listening_sockets(lab: Appliance) -> None:
    """A member's kernel (or their whole server) inherits none of them: it could otherwise accept the sign-ins
    and the storage calls meant for the portal."""
    server = MemberServer(lab, f"fd{secrets.token_hex(3)}")
    report = lab.supervisor_report()
    assert report is not None
    portal_pid = lab.component("portal")["pid"]
    holders = set()
    for process in [psutil.Process(report["supervisor"]["pid"]), *psutil.Process(report["supervisor"]["pid"])
                    .children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == lab.portal_port
                   for c in process.net_connections(kind="tcp")):
                holders.add(process.pid)
    assert holders == {report["supervisor"]["pid"], portal_pid}, holders
    [member_process] = user_servers(server.name)
    assert member_process.pid not in holders

    found = run_in_kernel(server.browser, server.url, f"""
import os, socket
held = []
for fd in map(int, os.listdir("/proc/self/fd")):
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        continue
    with probe:
        if probe.type == socket.SOCK_STREAM and probe.getsockname()[1:2] == ({lab.portal_port},):
            held.append(fd)
print("held", held, os.environ.get("APPLIANCE_LISTEN_FDS"))
""")
    server.browser.close()
    assert found.strip() == "held [] None", found
