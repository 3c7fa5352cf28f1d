"""Waiting until PostgreSQL says a call is held on a lock: what a test that holds one observes, instead of
sleeping while the call gets there."""

from __future__ import annotations

import time

from sqlalchemy import Connection, text


def wait_until_waiting_for_a_lock(connection: Connection, what: str = "nothing waited for the lock",
                                  timeout_s: float = 10) -> None:
    """Until a session of this database waits for a lock (pg_stat_activity says so). ``connection`` may be
    the transaction holding it: its view of pg_stat_activity is cleared before each look."""
    deadline = time.monotonic() + timeout_s
    while True:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))  # else the transaction sees its first look
        if connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()")).scalar_one():
            return
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
