"""The hubs' history: every ``sample_interval_s`` each hub's counts are copied into ``hub_samples``, and read
back, peak per bucket, for the admin console's chart of the last 24 hours or 7 days.

A sample's time is the start of its interval (``date_bin`` on the database's clock), so a second portal, or a
sampler that wakes twice in one interval, adds nothing: one row per hub and interval. A dead hub is
sampled with no servers and no active members (its last heartbeat's counts are stale); a hub that never
registered is not sampled.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from appliance.discovery.errors import BadRequest
from appliance.discovery.registry import STATE, pooled
from appliance.discovery.settings import DiscoverySettings

Connection = psycopg.AsyncConnection[Any]  # rows are named tuples (db.pool)
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"  # where the intervals and buckets are counted from
# the chart's windows: seconds shown and the most points drawn per hub
WINDOWS = {"24h": (86_400, 288), "7d": (7 * 86_400, 336)}
COUNTS = ("members", "active", "running", "pending", "memory_bytes")

RECORD = f"""
INSERT INTO discovery.hub_samples (at, hub_id, state, members, active, running, pending, memory_bytes)
SELECT date_bin(make_interval(secs => %(interval)s), now(), {ORIGIN}), h.id, h.state, h.assigned,
       CASE WHEN h.state = 'dead' THEN 0 ELSE h.active END, CASE WHEN h.state = 'dead' THEN 0 ELSE h.running END,
       CASE WHEN h.state = 'dead' THEN 0 ELSE h.pending END,
       CASE WHEN h.state = 'dead' THEN NULL ELSE h.memory_bytes END
FROM (SELECT h.*, {STATE} AS state FROM discovery.hubs h WHERE h.heartbeat_at IS NOT NULL) h
ON CONFLICT (at, hub_id) DO NOTHING"""

HISTORY = f"""
SELECT hub_id, extract(epoch FROM date_bin(make_interval(secs => %(bucket)s), at, {ORIGIN}))::float8 AS bucket,
       max(members) AS members, max(active) AS active, max(running) AS running, max(pending) AS pending,
       max(memory_bytes) AS memory_bytes
FROM discovery.hub_samples WHERE at >= now() - make_interval(secs => %(span)s)
GROUP BY hub_id, bucket ORDER BY length(hub_id), hub_id, bucket"""


@dataclass(frozen=True)
class Series:
    """One hub's samples in a window: ``at`` holds each bucket's start (Unix seconds) and every count the
    peak of that bucket's samples."""

    hub_id: str
    at: list[float] = field(default_factory=list)
    counts: dict[str, list[int | None]] = field(default_factory=lambda: {name: [] for name in COUNTS})

    def to_json(self) -> dict[str, Any]:
        return {"hub": self.hub_id, "at": self.at, **self.counts}


@dataclass(frozen=True)
class History:
    window: str
    since: float  # Unix seconds
    until: float
    bucket_s: float
    hubs: list[Series]

    def to_json(self) -> dict[str, Any]:
        return {"window": self.window, "since": self.since, "until": self.until, "bucket_s": self.bucket_s,
                "hubs": [series.to_json() for series in self.hubs]}


def bucket_seconds(window: str, interval_s: float) -> float:
    """How many seconds each point of ``window``'s chart spans: at least one sampling interval."""
    span, points = WINDOWS[window]
    return float(max(span / points, interval_s))


class HubSamples:
    def __init__(self, pool: AsyncConnectionPool[Connection], settings: DiscoverySettings):
        self.pool = pool
        self.settings = settings
        self._ages = {"dead_after": settings.dead_after_s, "suspect_after": settings.suspect_after_s}
        self._kept: dict[str, tuple[datetime | None, History]] = {}  # window -> (newest sample's time, answer)

    def _connection(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        return pooled(self.pool)

    async def record(self) -> int:
        """Sample every registered hub for the current interval (once); the rows added."""
        async with self._connection() as connection:
            cursor = await connection.execute(RECORD, {"interval": self.settings.sample_interval_s, **self._ages})
        return cursor.rowcount

    async def prune(self) -> int:
        """Delete the samples older than ``samples_keep_days`` (none when it is 0); how many."""
        if not self.settings.samples_keep_days:
            return 0
        async with self._connection() as connection:
            cursor = await connection.execute(
                "DELETE FROM discovery.hub_samples WHERE at < now() - make_interval(secs => %s)",
                (self.settings.samples_keep_days * 86_400,))
        return cursor.rowcount

    async def history(self, window: str) -> History:
        """Each hub's samples over ``window`` ("24h" or "7d"), peak per bucket, oldest first. The answer is
        kept until the next sample is taken (every open Hubs page asks every 15 s; 7 days of samples
        are 10,080 rows a hub)."""
        if window not in WINDOWS:
            raise BadRequest(f"window={window!r}: choose one of {', '.join(WINDOWS)}.")
        span, _ = WINDOWS[window]
        bucket = bucket_seconds(window, self.settings.sample_interval_s)
        async with self._connection() as connection:
            latest = await (await connection.execute(
                "SELECT max(at) AS newest, extract(epoch FROM now())::float8 AS now "
                "FROM discovery.hub_samples")).fetchone()
            newest, until = latest if latest is not None else (None, 0.0)
            kept = self._kept.get(window)
            if kept is not None and kept[0] == newest and newest is not None:
                return kept[1]
            rows = await (await connection.execute(HISTORY, {"bucket": bucket, "span": span})).fetchall()
        series: dict[str, Series] = {}
        for hub_id, at, *counts in rows:
            one = series.setdefault(hub_id, Series(hub_id))
            one.at.append(at)
            for name, value in zip(COUNTS, counts, strict=True):
                one.counts[name].append(value)
        found = History(window, until - span, until, bucket, list(series.values()))
        self._kept[window] = (newest, found)
        return found
