"""`appliance upgrade` on a running lab: --check says what would change; the upgrade restarts the portal, the
renderer and each hub in turn on the installed code while a member's open JupyterLab keeps answering (polled
every 100 ms, as JupyterLab does); one whose migration the running release cannot run beside is refused and
changes nothing. (The installer runs it after installing a new version: test_fresh_machine.)"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from appliance import __version__
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import MemberServer, user_servers
from tests.integration.oauth import Browser

RESTARTED = ["portal", "renderer", "hub-1", "hub-2"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=2)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def pids(lab: Appliance) -> dict[str, int]:
    report = lab.supervisor_report()
    assert report is not None
    return {component["name"]: component["pid"] for component in report["components"]}


class Poller(threading.Thread):
    """GET the member's server's /api/status every 100 ms until stopped, noting whether each answered 200."""

    def __init__(self, server: MemberServer):
        super().__init__(daemon=True)
        self.server, self.answers, self.stopping = server, list[bool](), threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.answers.append(self.server.browser.get(f"{self.server.url}/api/status", timeout=5).status_code
                                    == 200)
            except Exception:
                self.answers.append(False)
            time.sleep(0.1)

    def failures_in_a_row(self) -> int:
        longest = run = 0
        for answered in self.answers:
            run = 0 if answered else run + 1
            longest = max(longest, run)
        return longest


def test_the_check_says_what_would_change_and_the_upgrade_keeps_jupyterlab_answering(lab: Appliance) -> None:
    check = lab.cli("upgrade", "--check")
    assert check.returncode == 0, check.stderr
    assert "nothing to migrate" in check.stdout
    assert "Plan: migrate, then restart portal, renderer, hub-1, hub-2, one at a time" in check.stdout

    server = MemberServer(lab, f"up{secrets.token_hex(3)}")
    [member_process] = user_servers(server.name)
    before = pids(lab)
    poller = Poller(server)
    poller.start()
    upgraded = lab.cli("upgrade", timeout=600)
    time.sleep(1)
    poller.stopping.set()
    poller.join()
    server.browser.close()
    print(f"\nrolling upgrade: {upgraded.stdout.strip().splitlines()[-1]} {poller.answers.count(False)} of "
          f"{len(poller.answers)} polls failed, at most {poller.failures_in_a_row()} in a row")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "Upgraded to" in upgraded.stdout
    after = pids(lab)
    assert sorted(name for name in before if after[name] != before[name]) == sorted(RESTARTED)  # not postgres, proxy
    said = [line.strip() for line in upgraded.stdout.splitlines() if line.strip().startswith("restarting ")]
    assert said == [f"restarting {name} on {__version__}" for name in RESTARTED]  # one at a time, in this order
    assert len(poller.answers) > 50 and poller.failures_in_a_row() <= 1, poller.answers  # one retry at most
    assert user_servers(server.name) == [member_process]  # the same server, never restarted
    audit = lab.cli("audit", "--action", "hub.restarted", "--json")
    assert audit.stdout.count("hub.restarted") == 2, audit.stdout


def test_an_upgrade_the_running_release_cannot_run_beside_is_refused_and_changes_nothing(lab: Appliance) -> None:
    url = make_url(lab.database_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        [head] = connection.execute("SELECT version_num FROM alembic_version").fetchone() or [""]
        connection.execute("UPDATE alembic_version SET version_num = '0003'")  # as if made by an old release
        try:
            before = pids(lab)
            check = lab.cli("upgrade", "--check")
            assert check.returncode == 2, check.stdout + check.stderr
            assert "0004 storage: sealed bytes move to immutable blobs" in check.stdout
            assert "NOT backwards compatible" in check.stdout and "Plan: needs downtime" in check.stdout

            refused = lab.cli("upgrade")
            assert refused.returncode == 1
            assert "this upgrade is refused: migration 0004 (storage: sealed bytes" in refused.stderr, refused.stderr
            assert "Nothing was changed." in refused.stderr and "--with-downtime" in refused.stderr
            assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
            assert pids(lab) == before
        finally:
            connection.execute("UPDATE alembic_version SET version_num = %s", (head,))
