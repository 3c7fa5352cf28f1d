"""Asynchronous connection pools (psycopg) for the components on the request path: storage, discovery."""

from __future__ import annotations

import time
import weakref
from typing import Any

from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

# A connection returned to the pool this recently is used without a check; one idle for longer is
# checked with a round trip first, so a restarted PostgreSQL costs no failed call. (HikariCP
# bypasses its alive check the same way, within 500 ms.) Under load that saves a round trip a call.
FRESH_S = 0.5


class IdleCheck:
    """The pool's check and reset callbacks that implement FRESH_S (or another ``fresh_s``)."""

    def __init__(self, fresh_s: float = FRESH_S) -> None:
        self.fresh_s = fresh_s
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def check(self, connection: Any) -> None:
        if time.monotonic() - self._returned.get(connection, 0.0) > self.fresh_s:
            await AsyncConnectionPool.check_connection(connection)

    async def reset(self, connection: Any) -> None:
        self._returned[connection] = time.monotonic()


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL ``database_url`` as libpq (psycopg) takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def async_pool(database_url: str, max_size: int, options: str = "", timeout_s: float = 10,
               fresh_s: float = FRESH_S) -> AsyncConnectionPool[Any]:
    """A pool of autocommit connections to the SQLAlchemy URL ``database_url``; open it with ``await
    pool.open()`` inside the event loop that uses it. ``options`` are PostgreSQL settings (``-c …``);
    ``timeout_s`` is how long a caller waits for a connection before PoolTimeout; a connection idle for
    longer than ``fresh_s`` is checked before use.
    Rows are named tuples: read a column by its name (``row.wrapped_key``), a computed one by its alias."""
    conninfo = libpq_url(database_url)
    idle = IdleCheck(fresh_s)
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": namedtuple_row}
    if options:
        kwargs["options"] = options
    return AsyncConnectionPool(conninfo, min_size=min(2, max_size), max_size=max_size, timeout=timeout_s, open=False,
                               kwargs=kwargs, check=idle.check, reset=idle.reset)
