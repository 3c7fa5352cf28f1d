"""A hub's heartbeats on their own thread and connection (discovery/beats.py), against the session's
PostgreSQL: they keep the hub alive with its counts, hand over notifications, end with a fence when the epoch
is over or the database stops answering in time, and carry on through a database that refuses connections."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text

from appliance.db.pool import libpq_url
from appliance.discovery.beats import HeartbeatThread, is_outage
from appliance.discovery.registry import Heartbeat
from appliance.discovery.service import Discovery
from appliance.discovery.settings import DiscoverySettings
from appliance.home import Home
from tests.harness import Appliance
from tests.inprocess.conftest import SessionCluster

SETTINGS = DiscoverySettings(heartbeat_interval_s=0.2, suspect_after_s=1, dead_after_s=3, fence_after=3)
CHANNEL = "test_heartbeat_notices"


class Hub:
    """What the thread calls back, recorded."""

    def __init__(self) -> None:
        self.fenced: list[str] = []
        self.notified = 0
        self.changed = threading.Condition()

    def fence(self, why: str) -> None:
        with self.changed:
            self.fenced.append(why)
            self.changed.notify_all()

    def notice(self) -> None:
        with self.changed:
            self.notified += 1
            self.changed.notify_all()

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout_s), f"{what} within {timeout_s} s"


@pytest.fixture
async def discovery(portal_in_process: Appliance) -> AsyncIterator[Discovery]:
    service = Discovery(portal_in_process.database_url(), SETTINGS, Home(portal_in_process.home))
    await service.open(reap=False)
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
def beating(portal_in_process: Appliance) -> Iterator[Callable[..., Hub]]:
    """Start hub 1's heartbeats in an epoch (registered ``registered_s_ago``); they are stopped at the end."""
    threads: list[HeartbeatThread] = []

    def start(epoch: int, registered_s_ago: float = 0) -> Hub:
        hub = Hub()
        thread = HeartbeatThread(portal_in_process.database_url(), SETTINGS, "1", epoch,
                                 time.monotonic() - registered_s_ago,
                                 lambda: Heartbeat("1", epoch, running=3, pending=1, active=2, memory_bytes=5),
                                 on_fence=hub.fence, listen={CHANNEL: hub.notice})
        threads.append(thread)
        thread.start()
        return hub

    yield start
    for thread in threads:
        thread.stop(wait_s=5)


async def registered(discovery: Discovery) -> int:
    epoch, _ = await discovery.registry.register("1", discovery.registry.credentials.for_hub("1"), "local", "none")
    return epoch


def run(appliance: Appliance, statement: str, **parameters: object) -> None:
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:
        connection.execute(text(statement), parameters)
    engine.dispose()


def age(appliance: Appliance, seconds: float) -> None:
    """Make hub 1's last heartbeat ``seconds`` old, in a registry that has been listening all along (no reaper
    runs here to say so)."""
    run(appliance, "UPDATE discovery.hubs SET heartbeat_at = now() - make_interval(secs => :s), running = 0 "
        "WHERE id = '1'", s=seconds)
    run(appliance, "UPDATE discovery.registry SET alive_at = now(), listening_since = NULL")


async def test_heartbeats_keep_a_hub_alive_with_its_counts(portal_in_process: Appliance, discovery: Discovery,
                                                           beating: Callable[..., Hub]) -> None:
    hub = beating(await registered(discovery))
    age(portal_in_process, 2)  # suspect: the next beat makes it routable again
    deadline = time.monotonic() + 5
    while (found := await discovery.registry.hub("1")).running != 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        run(portal_in_process, "UPDATE discovery.registry SET alive_at = now()")
    assert (found.state, found.running, found.pending, found.active, found.memory_bytes) == ("routable", 3, 1, 2, 5)
    assert hub.fenced == []


async def test_a_notification_is_handed_over_and_listening_begins_with_one(
        portal_in_process: Appliance, discovery: Discovery, beating: Callable[..., Hub]) -> None:
    hub = beating(await registered(discovery))
    hub.wait(lambda: hub.notified == 1, 5, "a notice as listening began (whatever happened before it)")
    run(portal_in_process, f'NOTIFY "{CHANNEL}"')
    hub.wait(lambda: hub.notified == 2, 2, "the notification handed over")


async def test_an_epoch_that_is_over_fences_the_hub(discovery: Discovery, beating: Callable[..., Hub]) -> None:
    epoch = await registered(discovery)
    await registered(discovery)  # restarted meanwhile: a new epoch
    hub = beating(epoch)
    hub.wait(lambda: bool(hub.fenced), 5, "the fence")
    assert hub.fenced == ["discovery says this hub's epoch is over"]


async def test_a_hub_stopped_between_registering_and_beating_is_silent_from_its_registration(
        discovery: Discovery, beating: Callable[..., Hub]) -> None:
    hub = beating(await registered(discovery), registered_s_ago=SETTINGS.fence_after * SETTINGS.heartbeat_interval_s)
    hub.wait(lambda: bool(hub.fenced), 2, "the fence")
    assert hub.fenced[0].startswith("no heartbeat delivered for ")


async def test_a_database_that_does_not_answer_in_time_fences_the_hub(
        portal_in_process: Appliance, discovery: Discovery, beating: Callable[..., Hub]) -> None:
    epoch = await registered(discovery)
    with psycopg.connect(dsn(portal_in_process)) as locker:
        locker.execute("LOCK TABLE discovery.hubs IN ACCESS EXCLUSIVE MODE")  # every beat waits for it
        began = time.monotonic()
        hub = beating(epoch)
        hub.wait(lambda: bool(hub.fenced), 10, "the fence")
        waited = time.monotonic() - began
    assert hub.fenced[0].startswith("no heartbeat delivered for ")
    fence_s = SETTINGS.fence_after * SETTINGS.heartbeat_interval_s
    assert fence_s <= waited < fence_s + 3, waited  # no sooner than fence_after silent beats; promptly after


async def test_a_database_that_refuses_connections_is_an_outage_not_silence(
        portal_in_process: Appliance, discovery: Discovery, postgres_cluster: SessionCluster,
        beating: Callable[..., Hub]) -> None:
    hub = beating(await registered(discovery))
    hub.wait(lambda: hub.notified == 1, 5, "the first connection")
    with postgres_cluster.refusing(portal_in_process.database_url()):
        time.sleep(SETTINGS.fence_after * SETTINGS.heartbeat_interval_s * 3)  # three fence times
    age(portal_in_process, 2)
    deadline = time.monotonic() + 5
    while (await discovery.registry.hub("1")).state != "routable" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (await discovery.registry.hub("1")).state == "routable"  # beating again, on a new connection
    # listening again, with a notice for what it missed (a loaded machine may add a reconnection: no harm)
    assert hub.fenced == [] and hub.notified >= 2


def test_which_database_errors_are_outages() -> None:
    assert is_outage(psycopg.OperationalError("connection refused"))  # no SQLSTATE: refused or dropped
    assert is_outage(psycopg.errors.AdminShutdown())
    assert is_outage(psycopg.errors.CannotConnectNow())
    assert is_outage(psycopg.errors.ObjectNotInPrerequisiteState())  # ALLOW_CONNECTIONS false
    assert is_outage(psycopg.errors.DiskFull())  # nobody's heartbeat can be recorded
    assert not is_outage(psycopg.errors.TooManyConnections())  # refused to this hub alone
    assert not is_outage(psycopg.errors.InvalidPassword())
    assert not is_outage(TimeoutError())


def dsn(appliance: Appliance) -> str:
    return libpq_url(appliance.database_url())
