"""SQLAlchemy engines with a bounded pool that survives a database restart."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # pre_ping: a connection broken by a PostgreSQL restart is replaced instead of failing a request.
    return create_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True, pool_timeout=10)
