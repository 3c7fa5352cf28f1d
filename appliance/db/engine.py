"""SQLAlchemy engines with a bounded pool that survives a database restart."""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.pool import ConnectionPoolEntry

PING_AFTER_IDLE_S = 1.0  # a pooled connection idle longer than this is pinged before it is handed out
USED_AT = "appliance_used_at"  # in a pool entry's info: when the connection was last given back (the clock's time)


def make_engine(url: str, pool_size: int = 5, clock: Callable[[], float] = time.monotonic) -> Engine:
    """A connection broken by a PostgreSQL restart is replaced instead of failing a request: one that was
    idle more than PING_AFTER_IDLE_S, or whose server has said something since (below), is pinged when it is
    taken from the pool, and a failed ping replaces every pooled connection. Any other is handed out as it
    is: the portal's reads take a round trip each, and a ping on every one was a second (p99 13 ms against
    8.5 ms a read on the loaded 2-core machine, docs/notes.md)."""
    engine = create_engine(url, pool_size=pool_size, max_overflow=5, pool_timeout=10)
    dialect = engine.dialect

    def note_use(dbapi_connection: Any, entry: ConnectionPoolEntry, *_: Any) -> None:
        entry.info[USED_AT] = clock()

    def ping_if_stale(dbapi_connection: Any, entry: ConnectionPoolEntry, proxy: Any) -> None:
        recently_used = clock() - entry.info.get(USED_AT, float("-inf")) <= PING_AFTER_IDLE_S
        if recently_used and not _server_spoke(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error  # the pool reconnects this one, and the others on use
            raise

    event.listen(engine, "connect", note_use)
    event.listen(engine, "checkin", note_use)
    event.listen(engine, "checkout", ping_if_stale)
    return engine


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether the server sent anything to a connection sitting idle in the pool, asked of the socket without a
    round trip. PostgreSQL sends an idle connection nothing but its end: a FATAL message when it shuts down or
    terminates the backend, end-of-file when it was killed. A kill -9 and the supervisor's restart can take
    less than PING_AFTER_IDLE_S."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except Exception:  # closed already: the ping finds it broken
        return True
    return bool(readable)
