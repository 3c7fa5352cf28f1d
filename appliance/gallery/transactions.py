"""The gallery's transactions on its pool, and queueing a render: shared by publishing and moderation.

Kept apart from publish.py so that moderation (and `appliance gallery …`) does not import what checks a
submitted notebook (nbformat and its schema validator, which take ~1 s to import).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.errors import LockNotAvailable
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from appliance.db.pool import async_pool
from appliance.gallery.errors import Busy

Connection = psycopg.AsyncConnection[Any]  # rows are named tuples (db.pool)
RENDER_CHANNEL = "gallery_render"  # NOTIFY'd with the new job's id when a render is queued
QUEUE_RENDER = "INSERT INTO gallery.render_jobs (version_id) VALUES (%s) RETURNING id"
LOCK_TIMEOUT_MS = 5000  # a change waiting on another change of the same publication gives up (503)


def gallery_pool(database_url: str, size: int) -> AsyncConnectionPool[Any]:
    """The gallery's pool (opened by its owner, in its event loop)."""
    return async_pool(database_url, size, f"-c lock_timeout={LOCK_TIMEOUT_MS}")


async def queue_render(connection: Connection, version_id: int) -> int:
    """Queue a render of the version and wake the renderer at commit; the job's id."""
    cursor = await connection.execute(QUEUE_RENDER, (version_id,))
    job_id = int((await cursor.fetchone() or (0,))[0])
    await connection.execute("SELECT pg_notify(%s, %s)", (RENDER_CHANNEL, str(job_id)))
    return job_id


@contextlib.asynccontextmanager
async def transaction(pool: AsyncConnectionPool[Any]) -> AsyncIterator[Connection]:
    """A pooled connection in a transaction; an unreachable or locked database is Busy (503)."""
    try:
        async with pool.connection() as connection, connection.transaction():
            yield connection
    except LockNotAvailable:
        raise Busy("the publication is busy with another change; try again in a moment.") from None
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise Busy(f"the gallery's database is not answering ({type(exc).__name__}); try again in a moment.") from None
