"""A hub's heartbeats, on a thread and a database connection of their own.

Every interval the thread records the hub's heartbeat in the registry (one UPDATE: registry.record_heartbeat),
so that a hub whose event loop is busy still beats, and an idle appliance spends next to nothing on being
alive. The same connection LISTENs on the hub's channels (the access endings', the front proxy's restarts): a
notification calls the hub's callback for its channel, and so does every (re)connection, for whatever was
notified while the hub was not listening.

The thread judges its own silence: a beat that the database did not answer within the interval is not
delivered, and after ``fence_after`` of those in a row (or when the registry says the epoch is over) it calls
``on_fence`` and ends. A database that refuses or drops the connection (down, restarting) is not silence: the
registry cannot declare anyone dead meanwhile either (registry.SILENCE). A beat counts as delivered from the
moment it was sent: a hub that was frozen mid-beat finds itself silent when it runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from appliance.db.pool import libpq_url
from appliance.discovery.errors import NotRegistered
from appliance.discovery.registry import Heartbeat, record_heartbeat
from appliance.discovery.settings import DiscoverySettings

log = logging.getLogger(__name__)

PROXY_CHANNEL = "discovery_proxy_started"  # NOTIFYed when the front proxy is ready again after a restart


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database is down or cannot record anything: it refused or dropped the
    connection, is shutting down or starting up, takes no connections to this database (55000: an
    administrator's ALLOW_CONNECTIONS false), or its disk is full (53100). Not answering in time, or refusing
    this hub alone (too many connections, a wrong password), count as silence."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate or ""
    return state in ("", "55000", "53100") or state.startswith(("08", "57P"))


async def readable(fd: int, timeout_s: float) -> None:
    """Until ``fd`` has something to read, or ``timeout_s`` has passed. (psycopg's own wait for notifications
    wakes every 0.1 s, which was half of an idle hub's CPU.)"""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, timeout_s)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)


class HeartbeatThread:
    """Call ``start()`` once the hub has registered (its epoch; ``registered_at``, when its registration was
    sent, on time.monotonic's clock, is its first heartbeat), ``stop()`` when it ends. ``load()`` is called
    from the thread for each beat and must return at once (the hub hands over counts it keeps up to date);
    ``on_fence(why)`` and the callbacks of ``listen`` (channel: callback) are called from the thread too."""

    def __init__(self, database_url: str, settings: DiscoverySettings, hub_id: str, epoch: int, registered_at: float,
                 load: Callable[[], Heartbeat], on_fence: Callable[[str], object],
                 listen: Mapping[str, Callable[[], object]]):
        self.conninfo = libpq_url(database_url)
        self.settings, self.hub_id, self.epoch, self.registered_at = settings, hub_id, epoch, registered_at
        self.load, self.on_fence, self.listen = load, on_fence, dict(listen)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=f"heartbeats-{hub_id}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait_s: float = 0) -> None:
        """Beat no more: the thread ends within an interval (waited for up to ``wait_s``)."""
        self._stopping.set()
        if wait_s and self._thread.is_alive():
            self._thread.join(wait_s)

    async def _run(self) -> None:
        interval = self.settings.heartbeat_interval_s
        connection: psycopg.AsyncConnection[Any] | None = None
        fence_s = self.settings.fence_after * interval
        delivered_at = self.registered_at  # a hub stopped between registering and this thread's start is silent
        while not self._stopping.is_set():
            sent_at = time.monotonic()
            if sent_at - delivered_at >= fence_s:  # e.g. this process was stopped, or the database is unreachable
                self.on_fence(f"no heartbeat delivered for {sent_at - delivered_at:.1f} s")
                break
            try:
                if connection is None:
                    connection = await asyncio.wait_for(self._connect(), interval)
                await asyncio.wait_for(record_heartbeat(connection, self.settings, self.load()), interval)
            except NotRegistered:
                self.on_fence("discovery says this hub's epoch is over")
                break
            except Exception as error:
                await self._discard(connection)
                connection = None
                if is_outage(error):  # nobody can declare a hub dead meanwhile
                    delivered_at = sent_at
                log.warning("heartbeat not delivered: %s", f"{type(error).__name__} {error}".strip())
            else:
                delivered_at = sent_at
            connection = await self._listen(connection, until=sent_at + interval)
        await self._discard(connection)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                           row_factory=namedtuple_row)
        for channel, notified in self.listen.items():
            await connection.execute(f'LISTEN "{channel}"')
            notified()  # whatever happened while this hub was not listening
        return connection

    async def _listen(self, connection: psycopg.AsyncConnection[Any] | None,
                      until: float) -> psycopg.AsyncConnection[Any] | None:
        """Hand over notifications until ``until``; the connection, or None if it was lost meanwhile."""
        if connection is None:
            await asyncio.sleep(max(0.0, until - time.monotonic()))
            return connection
        try:
            while True:
                async for notify in connection.notifies(timeout=0):  # those that came with the beat, and any waiting
                    self.listen[notify.channel]()
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return connection
                await readable(connection.fileno(), remaining)
        except psycopg.Error as error:
            log.warning("stopped listening for notifications: %s", error)
            await self._discard(connection)
            return None

    @staticmethod
    async def _discard(connection: psycopg.AsyncConnection[Any] | None) -> None:
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                await connection.close()
