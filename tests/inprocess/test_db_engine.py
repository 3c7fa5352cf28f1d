"""The portal's engines (appliance.db.make_engine) against a real PostgreSQL: a pooled connection broken while
it sat idle is replaced, even within a second of its last use, and a healthy one given back within
PING_AFTER_IDLE_S is handed out without a ping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine.interfaces import DBAPIConnection

from appliance.db import make_engine
from appliance.db.engine import PING_AFTER_IDLE_S
from tests.harness import Appliance

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(portal_in_process: Appliance, clock: Clock) -> Iterator[Engine]:
    made = make_engine(portal_in_process.database_url(), pool_size=1, clock=clock)
    yield made
    made.dispose()


@pytest.fixture
def admin_engine(portal_in_process: Appliance) -> Iterator[Engine]:
    made = create_engine(portal_in_process.database_url())
    yield made
    made.dispose()


def backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(admin_engine: Engine, pid: int) -> None:
    """What a PostgreSQL restart does to the pooled connection: its server end goes away."""
    with admin_engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()


def test_a_connection_broken_while_idle_is_replaced_before_use(engine: Engine, admin_engine: Engine,
                                                                 clock: Clock) -> None:
    first = backend(engine)
    terminate(admin_engine, first)
    clock.now += PING_AFTER_IDLE_S + 0.1  # idle longer than the ping's threshold: pinged, found broken
    assert backend(engine) != first


def test_a_connection_given_back_within_the_threshold_is_not_pinged(engine: Engine, admin_engine: Engine,
                                                                      clock: Clock,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted_ping(connection: DBAPIConnection) -> bool:
        pings.append(connection)
        return ping(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    first = backend(engine)
    clock.now += PING_AFTER_IDLE_S / 2
    assert backend(engine) == first and pings == []  # one round trip a read, not two
    clock.now += PING_AFTER_IDLE_S * 2
    assert backend(engine) == first and len(pings) == 1
    clock.now += PING_AFTER_IDLE_S / 2
    assert backend(engine) == first and len(pings) == 1


def test_a_connection_broken_within_the_threshold_is_replaced_before_use(engine: Engine, admin_engine: Engine,
                                                                          clock: Clock) -> None:
    """As after a kill -9 of PostgreSQL that the supervisor heals in under a second: the server's end of
    the connection is seen on its socket, so the next request gets a new connection instead of an error."""
    first = backend(engine)
    terminate(admin_engine, first)
    clock.now += PING_AFTER_IDLE_S / 2
    assert backend(engine) != first
