"""Outages longer than discovery's dead_after of what every save goes through, while members save all along
(saver.MEMBERS of them, spread over both hubs): the appliance's databases refusing connections (what its clients
meet while PostgreSQL restarts), each part killed -9, PostgreSQL restarted. Nobody is moved and no hub fences (the
time the registry could not listen is nobody's silence), the members' saves fail with a clear answer while it
lasts and work again after, and nothing a member was told was saved is lost or corrupted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.faults.conftest import running
from tests.faults.saver import MEMBERS, Savers
from tests.harness import Appliance
from tests.integration.lab import MemberServer, server_hub, user_servers
from tests.integration.oauth import Browser
from tests.integration.storage_client import StorageCaller, mint

# short intervals, so that an outage of a few seconds is well past dead_after
DISCOVERY = {"APPLIANCE_DISCOVERY_HEARTBEAT_INTERVAL_S": "0.3", "APPLIANCE_DISCOVERY_SUSPECT_AFTER_S": "1",
             "APPLIANCE_DISCOVERY_DEAD_AFTER_S": "3", "APPLIANCE_DISCOVERY_FENCE_AFTER": "3"}
OUTAGE_S = 5.0
BACK_WITHIN_S = 20  # after the outage ends: the supervisor's heal, the pools' reconnects, on a loaded box


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=2, **DISCOVERY)


@pytest.fixture(scope="module")
def members(lab: Appliance) -> Iterator[list[MemberServer]]:
    servers = [MemberServer(lab, f"s{uuid.uuid4().hex[:8]}") for _ in range(max(2, MEMBERS))]  # one on each hub
    yield servers
    for server in servers:
        server.browser.close()
    Browser.close_all()


@contextlib.contextmanager
def databases_refused(lab: Appliance) -> Iterator[None]:
    """Every database of the appliance (the portal's, each hub's) refuses connections and loses the ones it had,
    for the block. The supervisor's health check uses the `postgres` database, so it sees nothing to heal."""
    admin_url = make_url(lab.database_url()).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as admin:
        names = [name for name, in admin.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('postgres', 'template1')")]
        for name in names:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s)", (names,))
            yield
        finally:
            for name in names:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def where_served(member: MemberServer) -> list[tuple[str, int]]:
    return [(server_hub(process), process.pid) for process in user_servers(member.name)]


class Placements(NamedTuple):
    servers: dict[str, list[tuple[str, int]]]  # each member's servers: (hub, pid)
    assigned: dict[str, int]  # how many members each hub holds


def placements(lab: Appliance, members: list[MemberServer]) -> Placements:
    assigned = {hub["id"]: hub["assigned"] for hub in json.loads(lab.cli("hubs", "list", "--json").stdout)}
    return Placements({member.name: where_served(member) for member in members}, assigned)


def assert_nobody_moved_and_nothing_lost(lab: Appliance, members: list[MemberServer], savers: Savers,
                                         before: Placements,
                                         hubs: tuple[str, ...] = ("1", "2")) -> None:
    assert placements(lab, members) == before, "a member's server was stopped or moved"
    for hub in hubs:
        log = (lab.home / "logs" / f"hub-{hub}.log").read_text()
        assert "fencing hub" not in log, f"hub {hub} fenced itself:\n{log[-3000:]}"
    lost, corrupted = savers.lost_and_corrupted(lambda name: StorageCaller(lab, mint(lab, name)))
    assert (lost, corrupted) == ([], [])


def assert_clear_failures(savers: Savers, allow_none: bool = False) -> None:
    failures = savers.failures()
    assert failures or allow_none, "no save failed: the outage was not seen"
    unclear = [(f.status, f.message) for f in failures if f.status != 503 or "try again" not in f.message]
    assert unclear == [], unclear


def test_databases_refusing_connections_past_dead_after_move_nobody_and_lose_no_save(
        lab: Appliance, members: list[MemberServer]) -> None:
    before = placements(lab, members)
    assert all(len(servers) == 1 for servers in before.servers.values()), before
    with Savers(members) as savers:
        savers.wait_for_saves(5)
        with databases_refused(lab):
            time.sleep(OUTAGE_S)  # the outage itself
        savers.wait_for_saves(5, timeout=BACK_WITHIN_S)
    savers.report(f"databases refusing connections for {OUTAGE_S:g} s")
    assert_clear_failures(savers)
    assert_nobody_moved_and_nothing_lost(lab, members, savers, before)


def kill_and_wait_for_the_heal(lab: Appliance, name: str) -> None:
    before = lab.component(name)
    os.kill(before["pid"], signal.SIGKILL)
    lab.wait_healthy(timeout=60, restarted=lambda report: next(
        c for c in report["components"] if c["name"] == name)["restarts"] > before["restarts"])


# What members' saves may meet while each part is down: a clear 503; the front proxy down, no connection, then
# its "No hub is serving this address" page (404) until the hubs and the portal have added their routes again.
# A hub down touches only its own members (a 503), not the other hub's.
ANSWERS_WHILE_DOWN = {"postgres": {503}, "portal": {503}, "proxy": {0, 404}, "renderer": set()}
HUBS = ("hub-1", "hub-2")


@pytest.mark.parametrize("part", [*ANSWERS_WHILE_DOWN, *HUBS])
def test_a_part_killed_9_moves_nobody_and_loses_no_save(lab: Appliance, members: list[MemberServer],
                                                        part: str) -> None:
    before = placements(lab, members)
    with Savers(members) as savers:
        savers.wait_for_saves(5)
        kill_and_wait_for_the_heal(lab, part)
        savers.wait_for_saves(5, timeout=BACK_WITHIN_S)
    savers.report(f"{part} killed -9 (and restarted by the supervisor)")
    for saver in savers.each:
        own_hub = f"hub-{before.servers[saver.server.name][0][0]}"
        allowed = ({503} if part == own_hub else set()) if part in HUBS else ANSWERS_WHILE_DOWN[part]
        seen = {failure.status for failure in saver.failures()}
        assert seen <= allowed, (saver.server.name, own_hub, [(f.status, f.message) for f in saver.failures()])
    assert all("try again" in f.message for f in savers.failures() if f.status == 503)
    assert_nobody_moved_and_nothing_lost(lab, members, savers, before)


def test_postgresql_restarted_mid_save_loses_no_save(lab: Appliance, members: list[MemberServer]) -> None:
    """`appliance restart postgres` (a fast shutdown: transactions in flight are rolled back) while saves stream."""
    before = placements(lab, members)
    with Savers(members) as savers:
        savers.wait_for_saves(5)
        restarted = lab.cli("restart", "postgres")
        assert restarted.returncode == 0, restarted.stderr
        savers.wait_for_saves(5, timeout=BACK_WITHIN_S)
    savers.report("postgres restarted (appliance restart postgres)")
    assert_clear_failures(savers, allow_none=True)
    assert_nobody_moved_and_nothing_lost(lab, members, savers, before)
