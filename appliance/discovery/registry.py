"""The hub registry: which hubs are alive, and which hub serves which member.

A hub registers when it starts (a new epoch) and records a heartbeat every second with its counts, on a
connection of its own (beats.py). By the age
of its last heartbeat it is *routable* (it gets new members), *suspect* (it keeps its members but gets
no new ones) or *dead* (its members are moved to live hubs when they next come). An administrator may
*drain* a hub: it keeps its members and gets no new ones. Assignments are sticky; a new member goes
to the routable hub with the fewest members. While the registry itself cannot record heartbeats
(PostgreSQL or the portal is down), no hub's silence grows (SILENCE): an outage moves nobody.

Asynchronous on psycopg's pool, like the storage: the Research page asks on every visit and poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from appliance.discovery.errors import DiscoveryError, NoHub, NoSuchHub, NotRegistered, Unavailable, UnknownHub
from appliance.discovery.settings import DiscoverySettings

Connection = psycopg.AsyncConnection[Any]  # rows are named tuples (db.pool)
# Since when the registry listens to heartbeats. Its own heartbeat (the portal's reaper writes it every
# heartbeat interval) older than suspect_after means it is not listening now, as while PostgreSQL or the
# portal is down: then from now. Every statement that judges a hub reads it, so a hub's heartbeat that comes
# in before the reaper's first run after an outage is judged as the reaper will judge it (tables.py, registry).
LISTENING_SINCE = """CASE WHEN r.alive_at IS NULL OR now() - r.alive_at > make_interval(secs => %(suspect_after)s)
                          THEN now() ELSE r.listening_since END"""
# How long a hub has been silent (the database's clock): since its last heartbeat, or since the registry
# began listening if that is later. The time no heartbeat could be recorded is nobody's silence.
SILENCE = f"(now() - greatest(h.heartbeat_at, (SELECT {LISTENING_SINCE} FROM discovery.registry r)))"
# Dead: silent past dead_after, or down (the supervisor saw its restart fail: no process serves it).
DEAD = f"(h.down_since IS NOT NULL OR {SILENCE} > make_interval(secs => %(dead_after)s))"
# a hub's state from its silence and the admin's drain flag
STATE = f"""CASE WHEN h.heartbeat_at IS NULL THEN 'unregistered'
                WHEN h.restarting_until > now() THEN 'restarting'
                WHEN {DEAD} THEN 'dead'
                WHEN {SILENCE} > make_interval(secs => %(suspect_after)s) THEN 'suspect'
                WHEN h.draining THEN 'draining' ELSE 'routable' END"""
HUB_COLUMNS = (f"h.id, {STATE} AS state, extract(epoch FROM now() - h.heartbeat_at)::float8 AS heartbeat_age_s, "
               "h.assigned, h.running, h.pending, h.spawner, h.isolation, h.draining, h.epoch, h.active, "
               "h.memory_bytes, h.version")  # Hub's fields


PLACEMENTS = Counter("appliance_discovery_placements", "Members placed on a hub, by reason: visit (at a visit, when "
                     "they had no hub: new, or theirs died or retired), admin (moved by an administrator).",
                     ["reason"])
for _reason in ("visit", "admin"):
    PLACEMENTS.labels(_reason)  # each series from the start, at 0
RELEASED = Counter("appliance_discovery_released", "Members released from hubs declared dead (each is placed again "
                   "at their next visit).")


@dataclass(frozen=True)
class Heartbeat:
    """What a hub's heartbeat records: that it is alive in this epoch, and its counts."""

    hub_id: str
    epoch: int
    running: int = 0
    pending: int = 0
    active: int = 0  # members active lately
    memory_bytes: int | None = None  # of the hub's process tree


def ages(settings: DiscoverySettings) -> dict[str, float]:
    """The parameters every statement that judges a hub (SILENCE, DEAD, STATE) takes."""
    return {"dead_after": settings.dead_after_s, "suspect_after": settings.suspect_after_s}


async def record_heartbeat(connection: Connection, settings: DiscoverySettings, beat: Heartbeat) -> None:
    """Record ``beat``. NotRegistered if it belongs to an older epoch or the hub was declared dead meanwhile:
    the hub must stop its servers and register again (its members may have moved)."""
    row = await (await connection.execute(
        "UPDATE discovery.hubs h SET heartbeat_at = now(), running = %(running)s, pending = %(pending)s, "
        f"active = %(active)s, memory_bytes = %(memory)s WHERE h.id = %(hub)s AND h.epoch = %(epoch)s "
        f"AND NOT {DEAD} RETURNING h.id",
        {"hub": beat.hub_id, "epoch": beat.epoch, "running": beat.running, "pending": beat.pending,
         "active": beat.active, "memory": beat.memory_bytes, **ages(settings)})).fetchone()
    if row is None:
        raise NotRegistered(f"hub {beat.hub_id!r} epoch {beat.epoch} is not current (restarted, or declared dead): "
                            "stop your user servers and register again.")


@contextlib.asynccontextmanager
async def pooled(pool: AsyncConnectionPool[Connection]) -> AsyncIterator[Connection]:
    """A connection from ``pool``, with a database that does not answer turned into Unavailable."""
    try:
        async with pool.connection() as connection:
            yield connection
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise Unavailable(f"the database is not answering ({type(exc).__name__}); try again in a moment.") from None


@dataclass(frozen=True)
class Hub:
    id: str
    state: str  # routable, suspect, dead, draining, restarting (an admin restarted it) or unregistered
    heartbeat_age_s: float | None
    assigned: int
    running: int
    pending: int
    spawner: str
    isolation: str
    draining: bool
    epoch: int
    active: int = 0  # members active lately (the hub's measure, from its heartbeat)
    memory_bytes: int | None = None  # resident memory of the hub and its servers; None: not reported
    version: str = ""  # the appliance version it runs; "": registered by a release that did not say

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "heartbeat_age_s": self.heartbeat_age_s,
                "assigned": self.assigned, "running": self.running, "pending": self.pending,
                "spawner": self.spawner, "isolation": self.isolation, "draining": self.draining,
                "active": self.active, "memory_bytes": self.memory_bytes, "version": self.version}


@dataclass(frozen=True)
class Placement:
    """Where a member's research happens: their hub, and whether discovery just chose it."""

    hub_id: str
    hub_state: str
    moved: bool  # newly assigned (first visit, or their previous hub died)


class HubCredentials:
    """Each hub's credential, derived from the appliance's discovery key: the portal checks one
    without storing it, and the supervisor hands each hub its own."""

    def __init__(self, key: str):
        self._key = key.encode()

    def for_hub(self, hub_id: str) -> str:
        return hmac.new(self._key, f"hub:{hub_id}".encode(), hashlib.sha256).hexdigest()

    def check(self, hub_id: str, credential: str) -> None:
        if not hmac.compare_digest(self.for_hub(hub_id), credential):
            raise UnknownHub(f"hub {hub_id!r}: wrong credential.")


class HubRegistry:
    def __init__(self, pool: AsyncConnectionPool[Connection], settings: DiscoverySettings,
                 credentials: HubCredentials, liveness_pool: AsyncConnectionPool[Connection] | None = None):
        self.pool = pool
        self.liveness_pool = liveness_pool or pool  # the reaper (service.py)
        self.settings = settings
        self.credentials = credentials
        self._ages = ages(settings)

    def _connection(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        return pooled(self.pool)

    # ----- hubs ------------------------------------------------------------------------------------------

    async def register(self, hub_id: str, credential: str, spawner: str, isolation: str,
                       version: str = "") -> tuple[int, list[str]]:
        """A hub (re)starting: its new epoch and the members assigned to it (it stops anyone else's server).
        A hub back from the dead has had its members released: they will be placed again."""
        self.credentials.check(hub_id, credential)
        async with self._connection() as connection, connection.transaction():
            await self._release_if_dead(connection, hub_id)
            row = await (await connection.execute(
                "INSERT INTO discovery.hubs AS h (id, epoch, heartbeat_at, spawner, isolation, version) "
                "VALUES (%s, 1, now(), %s, %s, %s) ON CONFLICT (id) DO UPDATE SET epoch = h.epoch + 1, "
                "heartbeat_at = now(), spawner = EXCLUDED.spawner, isolation = EXCLUDED.isolation, "
                "version = EXCLUDED.version, running = 0, "
                "pending = 0, active = 0, memory_bytes = NULL, restarting_until = NULL, down_since = NULL "
                "RETURNING epoch",
                (hub_id, spawner, isolation, version))).fetchone()
            members = await (await connection.execute(
                "SELECT username FROM discovery.assignments WHERE hub_id = %s ORDER BY username", (hub_id,))).fetchall()
        assert row is not None
        return row.epoch, [name for name, in members]

    async def heartbeat(self, beat: Heartbeat) -> None:
        """Record a hub's heartbeat (a hub records its own with ``record_heartbeat``, beats.py)."""
        async with pooled(self.liveness_pool) as connection:
            await record_heartbeat(connection, self.settings, beat)

    async def hubs(self) -> list[Hub]:
        async with self._connection() as connection:
            rows = await (await connection.execute(
                f"SELECT {HUB_COLUMNS} FROM discovery.hubs h ORDER BY length(h.id), h.id", self._ages)).fetchall()
        return [Hub(**row._asdict()) for row in rows]

    async def hub(self, hub_id: str) -> Hub:
        found = await self.hubs()
        for hub in found:
            if hub.id == hub_id:
                return hub
        known = ", ".join(hub.id for hub in found) or "none yet"
        raise NoSuchHub(f"no hub {hub_id!r} has registered (hubs: {known}).")

    async def set_draining(self, hub_id: str, draining: bool) -> Hub:
        async with self._connection() as connection:
            await connection.execute("UPDATE discovery.hubs SET draining = %s WHERE id = %s", (draining, hub_id))
        return await self.hub(hub_id)

    async def hold_for_restart(self, hub_id: str, grace_s: float, unless_dead: bool = False) -> None:
        """The hub is being restarted: for up to ``grace_s`` (or until it registers again) it is 'restarting',
        which gets no new members and is never declared dead, so its members and their servers stay. With
        ``unless_dead``, a hub dead already stays dead (its members may be moving)."""
        async with self._connection() as connection:
            await connection.execute(
                "UPDATE discovery.hubs h SET restarting_until = now() + make_interval(secs => %(grace)s) "
                f"WHERE h.id = %(hub)s AND NOT (%(unless_dead)s AND coalesce({DEAD}, false))",
                {"grace": grace_s, "hub": hub_id, "unless_dead": unless_dead, **self._ages})

    async def end_hold(self, hub_id: str) -> None:
        """The hub's restart failed: it is no longer 'restarting' (hold_for_restart) but down, which is dead
        until it registers again (no process serves it: waiting out dead_after would tell nothing more)."""
        async with self._connection() as connection:
            await connection.execute("UPDATE discovery.hubs SET restarting_until = NULL, down_since = now() "
                                     "WHERE id = %s", (hub_id,))

    async def retire(self, hub_id: str) -> None:
        """Forget a hub (``hubs.count`` lowered): its members are placed again at their next visit."""
        async with self._connection() as connection:
            await connection.execute("DELETE FROM discovery.hubs WHERE id = %s", (hub_id,))

    async def release_dead(self) -> tuple[int, set[str]]:
        """The registry's own heartbeat, then release the members of every dead hub (run every heartbeat
        interval by the portal): the number released, and the dead hubs. A heartbeat of its own older than
        suspect_after_s means nobody could record the hubs' meanwhile: the registry listens again from now
        (SILENCE).

        One statement when no hub is dead, as nearly always: the SELECT reads the registry's row as it was
        before the UPDATE, and LISTENING_SINCE of that row is the very value the UPDATE writes."""
        async with pooled(self.liveness_pool) as connection:
            dead = await (await connection.execute(
                "WITH alive AS (UPDATE discovery.registry r "
                f"SET listening_since = {LISTENING_SINCE}, alive_at = now()) "
                f"SELECT h.id, h.assigned FROM discovery.hubs h WHERE {DEAD} "
                "AND NOT coalesce(h.restarting_until > now(), false)", self._ages)).fetchall()
            released = 0
            for hub in dead:
                if hub.assigned > 0:
                    async with connection.transaction():
                        released += await self._release_if_dead(connection, hub.id)
        return released, {hub.id for hub in dead}

    async def _release_if_dead(self, connection: Connection, hub_id: str) -> int:
        """In a transaction: release the hub's members if it is dead (judged again, its row locked, so that a
        heartbeat cannot come in between); the number released."""
        row = await (await connection.execute(
            f"SELECT {DEAD} AND NOT coalesce(h.restarting_until > now(), false) AS dead FROM discovery.hubs h "
            "WHERE h.id = %(hub)s FOR UPDATE", {"hub": hub_id, **self._ages})).fetchone()
        if row is not None and row.dead:
            return await self._release(connection, hub_id)
        return 0

    @staticmethod
    async def _release(connection: Connection, hub_id: str) -> int:
        gone = await connection.execute("DELETE FROM discovery.assignments WHERE hub_id = %s", (hub_id,))
        await connection.execute("UPDATE discovery.hubs SET assigned = 0 WHERE id = %s", (hub_id,))
        RELEASED.inc(gone.rowcount)
        return gone.rowcount

    # ----- members ---------------------------------------------------------------------------------------

    async def placement(self, username: str) -> Placement:
        """The member's hub: sticky while it lives (even suspect or draining); otherwise the routable hub
        with the fewest members. NoHub when no hub is routable."""
        async with self._connection() as connection:
            row = await (await connection.execute(
                f"SELECT h.id, {STATE} AS state FROM discovery.assignments a JOIN discovery.hubs h ON h.id = a.hub_id "
                "WHERE a.username = %(user)s", {"user": username, **self._ages})).fetchone()
            if row is not None and row.state != "dead":
                return Placement(row.id, row.state, moved=False)
            async with connection.transaction():
                return await self._assign(connection, username)

    async def _assign(self, connection: Connection, username: str) -> Placement:
        # Locks are taken hub row first, then assignments, as the reaper and register do: deleting the
        # member's assignment first deadlocked with a concurrent placement of the same member.
        previous = await (await connection.execute(
            "SELECT hub_id FROM discovery.assignments WHERE username = %s", (username,))).fetchone()
        if previous is not None:  # on a dead hub (or placed a moment ago, which the insert below keeps)
            await self._release_if_dead(connection, previous[0])
        # the chosen hub's row is locked until commit; placements in flight at the same moment may
        # leave the counts one or two apart, which the next placements even out
        chosen = await (await connection.execute(
            f"SELECT h.id FROM discovery.hubs h WHERE {STATE} = 'routable' ORDER BY h.assigned, length(h.id), h.id "
            "LIMIT 1 FOR UPDATE", self._ages)).fetchone()
        if chosen is None:
            raise NoHub("no hub is up right now; the administrator can see why with `appliance status`. "
                        "This page will try again by itself.")
        inserted = await (await connection.execute(
            "INSERT INTO discovery.assignments (username, hub_id) VALUES (%s, %s) ON CONFLICT (username) DO NOTHING "
            "RETURNING hub_id", (username, chosen[0]))).fetchone()
        if inserted is None:  # placed meanwhile by a concurrent request (another tab): that placement stands
            found = await (await connection.execute(
                "SELECT hub_id FROM discovery.assignments WHERE username = %s", (username,))).fetchone()
            if found is None:
                raise DiscoveryError(f"{username} was being placed by another request; try again.")
            return Placement(found[0], "routable", moved=False)
        await connection.execute("UPDATE discovery.hubs SET assigned = assigned + 1 WHERE id = %s", chosen)
        PLACEMENTS.labels("visit").inc()
        return Placement(chosen[0], "routable", moved=True)

    async def move(self, username: str, hub_id: str) -> Placement:
        """Place the member on ``hub_id``, a routable hub (an admin's move). Stop their server on the old
        hub first: their next visit starts it on the new one. Both hubs' rows are locked before the
        member's assignment, in id order (the order placement and the reaper keep)."""
        async with self._connection() as connection, connection.transaction():
            previous = await (await connection.execute(
                "SELECT hub_id FROM discovery.assignments WHERE username = %s", (username,))).fetchone()
            hubs = sorted({hub_id, *([previous.hub_id] if previous else [])})
            rows = await (await connection.execute(
                f"SELECT h.id, {STATE} AS state FROM discovery.hubs h WHERE h.id = ANY(%(hubs)s) "
                "ORDER BY h.id FOR UPDATE",
                {"hubs": hubs, **self._ages})).fetchall()
            state = {row.id: row.state for row in rows}.get(hub_id)
            if state is None:
                raise NoSuchHub(f"there is no hub {hub_id!r}; see `appliance hubs list`.")
            if state != "routable":
                raise DiscoveryError(f"hub {hub_id} is {state}: move people only to a routable hub.")
            if previous is not None:
                gone = await connection.execute("DELETE FROM discovery.assignments WHERE username = %s AND hub_id = %s",
                                                (username, previous.hub_id))
                if gone.rowcount != 1:
                    raise DiscoveryError(f"{username} was being placed by another request; try again.")
                await connection.execute("UPDATE discovery.hubs SET assigned = greatest(assigned - 1, 0) WHERE id = %s",
                                         (previous.hub_id,))
            await connection.execute("INSERT INTO discovery.assignments (username, hub_id) VALUES (%s, %s)",
                                     (username, hub_id))
            await connection.execute("UPDATE discovery.hubs SET assigned = assigned + 1 WHERE id = %s", (hub_id,))
        PLACEMENTS.labels("admin").inc()
        return Placement(hub_id, "routable", moved=True)

    async def assignment(self, username: str) -> str | None:
        """The hub the member is assigned to, if it is not dead; nobody is placed by asking."""
        async with self._connection() as connection:
            row = await (await connection.execute(
                f"SELECT h.id, {STATE} AS state FROM discovery.assignments a JOIN discovery.hubs h ON h.id = a.hub_id "
                "WHERE a.username = %(user)s", {"user": username, **self._ages})).fetchone()
        return row.id if row is not None and row.state != "dead" else None

    async def members(self, hub_id: str) -> list[str]:
        async with self._connection() as connection:
            rows = await (await connection.execute(
                "SELECT username FROM discovery.assignments WHERE hub_id = %s ORDER BY username", (hub_id,))).fetchall()
        return [name for name, in rows]
