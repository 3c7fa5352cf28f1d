"""Discovery on a real database: registration, heartbeats, suspect and dead hubs, drain, sticky and
least-allocated placement. Silence is made by ageing a hub's last heartbeat in the database (the
clock discovery reads), so no test waits out the real intervals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text

from appliance.discovery.errors import NoHub, NotRegistered, UnknownHub
from appliance.discovery.registry import Heartbeat
from appliance.discovery.service import Discovery, end_hub_hold, hold_crashed_hub
from appliance.discovery.settings import DiscoverySettings
from appliance.home import Home
from tests.harness import Appliance

SETTINGS = DiscoverySettings(heartbeat_interval_s=1, suspect_after_s=3, dead_after_s=10, fence_after=5)


@pytest.fixture
async def discovery(portal_in_process: Appliance) -> AsyncIterator[Discovery]:
    engine = create_engine(portal_in_process.database_url())
    with engine.begin() as connection:  # each test starts with no hubs
        connection.execute(text("DELETE FROM discovery.hubs"))
    engine.dispose()
    # 20 connections: enough concurrency to show lock-order deadlocks (five rarely did)
    service = Discovery(portal_in_process.database_url(), SETTINGS, Home(portal_in_process.home), pool_size=20)
    await service.open(reap=False)
    try:
        yield service
    finally:
        await service.close()


def age(appliance: Appliance, hub_id: str, seconds: float) -> None:
    """Make the hub's last heartbeat ``seconds`` old, in a registry that has been listening all along."""
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:
        connection.execute(text("UPDATE discovery.hubs SET heartbeat_at = now() - make_interval(secs => :s) "
                                "WHERE id = :id"), {"s": seconds, "id": hub_id})
        connection.execute(text("UPDATE discovery.registry SET alive_at = now(), listening_since = NULL"))
    engine.dispose()


def registry_ages(appliance: Appliance, alive_s: float, listening_s: float | None = None) -> None:
    """Make the registry's own last heartbeat ``alive_s`` old, and its listening begin ``listening_s`` ago."""
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:
        connection.execute(text("UPDATE discovery.registry SET alive_at = now() - make_interval(secs => :alive), "
                                "listening_since = now() - make_interval(secs => :listening)"),
                           {"alive": alive_s, "listening": alive_s if listening_s is None else listening_s})
    engine.dispose()


def silence(appliance: Appliance, seconds: float) -> None:
    """Every hub's last heartbeat and the registry's own ``seconds`` old, in one transaction: the portal's own
    reaper, running meanwhile, sees all of it or none (hubs aged before the registry looked dead to it)."""
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:
        connection.execute(text("UPDATE discovery.hubs SET heartbeat_at = now() - make_interval(secs => :s)"),
                           {"s": seconds})
        connection.execute(text("UPDATE discovery.registry SET alive_at = now() - make_interval(secs => :s), "
                                "listening_since = now() - make_interval(secs => :s)"), {"s": seconds})
    engine.dispose()


async def start_hub(discovery: Discovery, hub_id: str) -> int:
    credential = discovery.registry.credentials.for_hub(hub_id)
    epoch, _ = await discovery.registry.register(hub_id, credential, "local", "none")
    return epoch


async def states(discovery: Discovery) -> dict[str, str]:
    return {hub.id: hub.state for hub in await discovery.registry.hubs()}


async def test_new_members_go_to_the_hub_with_fewest_and_stay(discovery: Discovery) -> None:
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    placed = [await discovery.registry.placement(f"member{i}") for i in range(6)]
    assert [p.hub_id for p in placed] == ["1", "2", "1", "2", "1", "2"] and all(p.moved for p in placed)
    again = await discovery.registry.placement("member0")
    assert (again.hub_id, again.moved) == ("1", False)
    assert {hub.id: hub.assigned for hub in await discovery.registry.hubs()} == {"1": 3, "2": 3}


async def test_a_silent_hub_is_suspect_then_dead_and_its_members_move(portal_in_process: Appliance,
                                                                      discovery: Discovery) -> None:
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    alice = await discovery.registry.placement("alice")
    assert alice.hub_id == "1"

    age(portal_in_process, "1", 4)  # past suspect_after: keeps alice, gets nobody new
    assert await states(discovery) == {"1": "suspect", "2": "routable"}
    assert (await discovery.registry.placement("alice")).hub_id == "1"
    assert (await discovery.registry.placement("bob")).hub_id == "2"
    assert (await discovery.registry.placement("carol")).hub_id == "2"

    age(portal_in_process, "1", 11)  # past dead_after: alice moves at her next visit
    assert (await states(discovery))["1"] == "dead"
    moved = await discovery.registry.placement("alice")
    assert (moved.hub_id, moved.moved) == ("2", True)
    with pytest.raises(NotRegistered):  # the dead hub must fence and register again
        await discovery.registry.heartbeat(Heartbeat("1", 1))


async def test_the_reaper_releases_a_dead_hubs_members_and_registration_reconciles(
        portal_in_process: Appliance, discovery: Discovery) -> None:
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    for name in ("a", "b", "c", "d"):
        await discovery.registry.placement(name)
    assert await discovery.registry.members("1") == ["a", "c"]

    epoch = await start_hub(discovery, "1")  # a quick restart keeps its members
    assert epoch == 2 and await discovery.registry.members("1") == ["a", "c"]
    with pytest.raises(NotRegistered):  # the previous epoch's heartbeats are over
        await discovery.registry.heartbeat(Heartbeat("1", 1))

    age(portal_in_process, "1", 11)
    assert await discovery.registry.release_dead() == (2, {"1"})
    assert [h.assigned for h in await discovery.registry.hubs()] == [0, 2]
    registered_epoch, members = await discovery.registry.register(
        "1", discovery.registry.credentials.for_hub("1"), "local", "none")
    assert members == []  # back from the dead: whatever servers it still runs, it stops
    assert registered_epoch == 3 and (await states(discovery))["1"] == "routable"


async def test_silence_while_the_registry_could_not_listen_is_nobodys(portal_in_process: Appliance,
                                                                      discovery: Discovery) -> None:
    """As after PostgreSQL or the portal was down for longer than dead_after: no hub could deliver a
    heartbeat meanwhile, so none is dead for it. The first reap after it listens again from then on."""
    epoch = await start_hub(discovery, "1")
    await start_hub(discovery, "2")
    assert (await discovery.registry.placement("alice")).hub_id == "1"
    silence(portal_in_process, 11)  # its own heartbeat as old as the hubs': the reaper could not run either
    assert await states(discovery) == {"1": "routable", "2": "routable"}
    # a heartbeat that comes in before the reaper's first run is accepted: the hub need not fence
    await discovery.registry.heartbeat(Heartbeat("1", epoch))
    assert (await discovery.registry.release_dead())[0] == 0
    stays = await discovery.registry.placement("alice")
    assert (stays.hub_id, stays.moved) == ("1", False)
    registry_ages(portal_in_process, alive_s=0, listening_s=11)  # listening since; hub 2 silent all along
    assert await states(discovery) == {"1": "routable", "2": "dead"}


async def test_a_crashed_hub_held_by_the_supervisor_keeps_its_members_and_a_dead_one_stays_dead(
        portal_in_process: Appliance, discovery: Discovery) -> None:
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    assert (await discovery.registry.placement("alice")).hub_id == "1"
    await hold_crashed_hub(portal_in_process.database_url(), SETTINGS, "1")
    age(portal_in_process, "1", 11)  # its restart takes longer than dead_after
    assert (await states(discovery))["1"] == "restarting"
    assert (await discovery.registry.release_dead())[0] == 0
    stays = await discovery.registry.placement("alice")
    assert (stays.hub_id, stays.moved) == ("1", False)
    assert (await discovery.registry.placement("bob")).hub_id == "2"  # nobody new meanwhile
    age(portal_in_process, "2", 11)  # dead already when it crashed: not held
    await hold_crashed_hub(portal_in_process.database_url(), SETTINGS, "2")
    assert (await states(discovery))["2"] == "dead"
    await start_hub(discovery, "2")  # back
    await end_hub_hold(portal_in_process.database_url(), SETTINGS, "1")  # its restart failed: down, and silent
    assert (await states(discovery))["1"] == "dead"
    moved = await discovery.registry.placement("alice")
    assert (moved.hub_id, moved.moved) == ("2", True)


async def test_a_hub_whose_restart_failed_is_dead_at_once_until_it_registers_again(
        portal_in_process: Appliance, discovery: Discovery) -> None:
    """The supervisor saw no process come up: nothing serves the hub, however recent its last heartbeat."""
    for hub_id in ("1", "2"):
        epoch = await start_hub(discovery, hub_id)
    assert (await discovery.registry.placement("bob")).hub_id == "1"
    await hold_crashed_hub(portal_in_process.database_url(), SETTINGS, "1")
    await end_hub_hold(portal_in_process.database_url(), SETTINGS, "1")
    assert await states(discovery) == {"1": "dead", "2": "routable"}
    moved = await discovery.registry.placement("bob")
    assert (moved.hub_id, moved.moved) == ("2", True)
    with pytest.raises(NotRegistered):  # a late heartbeat of the old process is refused
        await discovery.registry.heartbeat(Heartbeat("1", 1))
    await discovery.registry.heartbeat(Heartbeat("2", epoch))
    await start_hub(discovery, "1")  # it came back after all
    assert await states(discovery) == {"1": "routable", "2": "routable"}


async def test_heartbeats_keep_a_hub_routable_and_carry_its_counts(portal_in_process: Appliance,
                                                                   discovery: Discovery) -> None:
    epoch = await start_hub(discovery, "1")
    age(portal_in_process, "1", 2.5)
    await discovery.registry.heartbeat(Heartbeat("1", epoch, 7, 2))
    hub = await discovery.registry.hub("1")
    assert (hub.state, hub.running, hub.pending) == ("routable", 7, 2)
    assert hub.heartbeat_age_s is not None and hub.heartbeat_age_s < 1


async def test_a_drained_hub_keeps_its_members_and_gets_no_new_ones(discovery: Discovery) -> None:
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    assert (await discovery.registry.placement("alice")).hub_id == "1"
    assert (await discovery.registry.set_draining("1", True)).state == "draining"
    assert (await discovery.registry.placement("alice")).hub_id == "1"
    assert [(await discovery.registry.placement(n)).hub_id for n in ("b", "c", "d")] == ["2", "2", "2"]
    await discovery.registry.set_draining("1", False)
    assert (await discovery.registry.placement("e")).hub_id == "1"


async def test_no_routable_hub_is_a_clear_error(portal_in_process: Appliance, discovery: Discovery) -> None:
    with pytest.raises(NoHub, match="no hub is up right now"):
        await discovery.registry.placement("alice")
    await start_hub(discovery, "1")
    await discovery.registry.set_draining("1", True)
    with pytest.raises(NoHub):
        await discovery.registry.placement("alice")


async def test_a_wrong_credential_is_refused(discovery: Discovery) -> None:
    with pytest.raises(UnknownHub):
        await discovery.registry.register("1", discovery.registry.credentials.for_hub("2"), "local", "none")


async def test_concurrent_first_visits_place_a_member_once(discovery: Discovery) -> None:
    for hub_id in ("1", "2", "3"):
        await start_hub(discovery, hub_id)
    for name in ("alice", "bob", "carl", "dora", "emil"):
        placements = await asyncio.gather(*(discovery.registry.placement(name) for _ in range(20)))
        assert len({p.hub_id for p in placements}) == 1
    assert sum(hub.assigned for hub in await discovery.registry.hubs()) == 5


async def test_concurrent_visits_move_a_dead_hubs_member_once_while_the_reaper_runs(
        portal_in_process: Appliance, discovery: Discovery) -> None:
    """Placements and releases lock the hub row before the assignments (they deadlocked once)."""
    for hub_id in ("1", "2", "3"):
        await start_hub(discovery, hub_id)
    for round_ in range(5):
        name = f"mover{round_}"
        first = (await discovery.registry.placement(name)).hub_id
        age(portal_in_process, first, 60)
        visits = [discovery.registry.placement(name) for _ in range(15)]
        reaping = [discovery.registry.release_dead() for _ in range(5)]
        placements = (await asyncio.gather(*visits, *reaping))[:15]
        assert len({p.hub_id for p in placements}) == 1 and placements[0].hub_id != first  # type: ignore[union-attr]
        for hub_id in ("1", "2", "3"):  # all alive again for the next round
            age(portal_in_process, hub_id, 0)
    hubs = await discovery.registry.hubs()
    assert sum(hub.assigned for hub in hubs) == 5


def test_settings_refuse_intervals_that_cannot_work() -> None:
    from appliance.errors import ConfigError

    with pytest.raises(ConfigError, match="suspect_after_s < dead_after_s"):
        DiscoverySettings(suspect_after_s=10, dead_after_s=5)
    with pytest.raises(ConfigError, match="fence_after"):
        DiscoverySettings(fence_after=20)


async def test_hubs_command_lists_drains_and_names_unknown_hubs(portal_in_process: Appliance,
                                                                discovery: Discovery) -> None:
    empty = await asyncio.to_thread(portal_in_process.cli, "hubs", "list")
    assert empty.returncode == 0 and "No hub has registered yet" in empty.stdout
    for hub_id in ("1", "2"):
        await start_hub(discovery, hub_id)
    await discovery.registry.placement("alice")
    listed = await asyncio.to_thread(portal_in_process.cli, "hubs", "list", "--json")
    assert [(h["id"], h["state"], h["assigned"]) for h in json.loads(listed.stdout)] == [
        ("1", "routable", 1), ("2", "routable", 0)]
    drained = await asyncio.to_thread(portal_in_process.cli, "hubs", "drain", "1")
    assert drained.returncode == 0 and "1 member(s) stay" in drained.stdout
    assert (await discovery.registry.hub("1")).state == "draining"
    table = await asyncio.to_thread(portal_in_process.cli, "hubs", "list")
    assert "draining" in table.stdout and "local (isolation: none)" in table.stdout
    assert (await asyncio.to_thread(portal_in_process.cli, "hubs", "undrain", "1")).returncode == 0
    assert (await discovery.registry.hub("1")).state == "routable"
    unknown = await asyncio.to_thread(portal_in_process.cli, "hubs", "drain", "9")
    assert unknown.returncode == 1 and "no hub '9' has registered (hubs: 1, 2)" in unknown.stderr
