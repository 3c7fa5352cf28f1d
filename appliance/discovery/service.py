"""The discovery component wired together: its pool, the registry and the hubs' credentials."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg

from appliance.db.pool import async_pool, libpq_url
from appliance.discovery.beats import PROXY_CHANNEL
from appliance.discovery.errors import Unavailable
from appliance.discovery.registry import HubCredentials, HubRegistry
from appliance.discovery.samples import HubSamples
from appliance.discovery.settings import DiscoverySettings
from appliance.home import Home

CREDENTIAL_KEY_SECRET = "discovery-key"
log = logging.getLogger(__name__)


# What a hub's own database role needs in the appliance's database: its heartbeats (beats.py) and the
# supervisor's holds (hold_crashed_hub) update its row; the judgement of silence reads the registry's
HUB_ROLE_GRANTS = ("GRANT USAGE ON SCHEMA discovery TO {role}",
                   "GRANT SELECT, UPDATE ON discovery.hubs TO {role}",
                   "GRANT SELECT ON discovery.registry TO {role}")


def hub_credentials(home: Home) -> HubCredentials:
    return HubCredentials(home.secret(CREDENTIAL_KEY_SECRET))


async def hold_crashed_hub(database_url: str, settings: DiscoverySettings, hub_id: str) -> None:
    """What the supervisor does when a running hub died, before it starts it again: the hub is 'restarting' for
    up to discovery.restart_grace_s, so its members keep their servers and are not moved meanwhile (a hub dead
    already stays dead). A hub that is not back by then is dead at once."""
    async with _registry(database_url, settings) as registry:
        await registry.hold_for_restart(hub_id, settings.restart_grace_s, unless_dead=True)


async def end_hub_hold(database_url: str, settings: DiscoverySettings, hub_id: str) -> None:
    """What the supervisor does when a hub's restart failed: it is down, no longer 'restarting' but dead, and its
    members move at their next visit."""
    async with _registry(database_url, settings) as registry:
        await registry.end_hold(hub_id)


async def announce_proxy_restart(database_url: str) -> None:
    """What the supervisor does when the front proxy is ready again after a restart: it knows the portal's routes
    only (the supervisor's check adds them), and the hubs, told on PROXY_CHANNEL, add theirs at once."""
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True,
                                                     connect_timeout=2) as connection:
        await connection.execute(f'NOTIFY "{PROXY_CHANNEL}"')


@contextlib.asynccontextmanager
async def _registry(database_url: str, settings: DiscoverySettings) -> AsyncIterator[HubRegistry]:
    """A registry on a connection of its own, for the supervisor's rare calls."""
    pool = async_pool(database_url, 1)
    await pool.open()
    try:
        yield HubRegistry(pool, settings, HubCredentials(""))
    finally:
        await pool.close()


class Discovery:
    """Call ``await open()`` inside the event loop that will use it, and ``await close()`` at the end.
    While open, the members of dead hubs are released every heartbeat interval, and then each of
    ``after_reap`` runs (the portal's tending of the front proxy's routes); and every sample interval
    the hubs' counts are sampled and samples past their retention deleted."""

    def __init__(self, database_url: str, settings: DiscoverySettings, home: Home, pool_size: int = 5):
        self.pool = async_pool(database_url, pool_size)
        # the reaper's own connection: members' requests holding every pooled connection cannot delay it. It is
        # used every interval, so not checked before each use (a round trip a second): after a PostgreSQL
        # restart one reap fails, and the next runs on a new connection
        self.liveness_pool = async_pool(database_url, 1, timeout_s=settings.heartbeat_interval_s / 2,
                                        fresh_s=3 * settings.heartbeat_interval_s)
        self.settings = settings
        self.registry = HubRegistry(self.pool, settings, hub_credentials(home), self.liveness_pool)
        self.samples = HubSamples(self.pool, settings)
        self._tasks: list[asyncio.Task[None]] = []
        self.after_reap: list[Callable[[set[str]], Awaitable[object]]] = []  # given the dead hubs

    async def open(self, reap: bool = True) -> None:
        await self.pool.open()
        await self.liveness_pool.open()
        if reap:
            self._tasks = [asyncio.create_task(self._reap()), asyncio.create_task(self._sample())]

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval_s)
            try:
                released, dead = await self.registry.release_dead()
            except Unavailable as error:  # PostgreSQL is restarting
                log.warning("could not release the members of dead hubs (%s); trying again", error)
                continue
            except Exception:
                log.warning("could not release the members of dead hubs; trying again", exc_info=True)
                continue
            if released:
                log.warning("released %d member(s) of dead hub(s); they move at their next visit", released)
            for then in self.after_reap:
                try:
                    await then(dead)
                except Exception:
                    log.warning("%s failed; trying again", getattr(then, "__qualname__", then), exc_info=True)

    async def _sample(self) -> None:
        interval = self.settings.sample_interval_s
        while True:
            try:
                await self.samples.prune()  # first: a history kept until the next sample never shows a pruned one
                await self.samples.record()
            except Exception:
                log.warning("could not sample the hubs; trying at the next interval", exc_info=True)
            await asyncio.sleep(interval - time.time() % interval + 0.05)  # just into the next interval

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.liveness_pool.close()
        await self.pool.close()
