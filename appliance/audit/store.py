"""The audit table: events written in batches, read a page at a time or streamed, pruned by age.

Reading is newest first with a keyset cursor on (at, id), which the index ``events_at`` walks
backwards and stops after the page. ``text`` is an ILIKE over the row's columns: no index serves it, so
with a search a page may read many rows; the other filters bound it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, String, cast, delete, func, or_, select, text, tuple_

from appliance.audit.events import Event
from appliance.audit.filters import Filters
from appliance.audit.tables import events
from appliance.db.like import contains_pattern

WRITE_TIMEOUT = "5s"  # a batch waits no longer than this on the database before it is retried
PRUNE_BATCH = 5000  # rows deleted per statement: no long lock on the table while members sign in
STREAM_ROWS = 1000  # rows fetched at a time for a CSV export


@dataclass(frozen=True)
class Page:
    events: list[Event]
    next_cursor: tuple[datetime, int] | None  # where the next (older) page starts; None: this was the last


def _event(row: Any) -> Event:
    return Event(id=row.id, at=row.at, actor=row.actor, action=row.action, target=row.target,
                 address=row.address, detail=row.detail)


def _conditions(filters: Filters) -> list[Any]:
    found: list[Any] = []
    if filters.since is not None:
        found.append(events.c.at >= filters.since)
    if filters.until is not None:
        found.append(events.c.at < filters.until)
    if filters.actor:
        found.append(events.c.actor == filters.actor)
    if filters.action:
        found.append(or_(events.c.action == filters.action,
                         events.c.action.startswith(filters.action + ".", autoescape=True)))
    if filters.target:
        found.append(events.c.target == filters.target)
    if filters.text:
        pattern = contains_pattern(filters.text)
        found.append(or_(*(column.ilike(pattern, escape="\\") for column in (
            events.c.actor, events.c.action, events.c.target, events.c.address, cast(events.c.detail, String)))))
    return found


class EventStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def write(self, batch: Sequence[Event]) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = '{WRITE_TIMEOUT}'"))
            connection.execute(events.insert(), [event.row() for event in batch])

    def page(self, filters: Filters, limit: int = 100, after: tuple[datetime, int] | None = None) -> Page:
        """Up to ``limit`` events matching ``filters``, newest first, older than the cursor ``after``."""
        query = select(events).where(*_conditions(filters))
        if after is not None:
            query = query.where(tuple_(events.c.at, events.c.id) < tuple_(*after))
        query = query.order_by(events.c.at.desc(), events.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found = [_event(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(found, (found[-1].at, found[-1].id or 0) if more and found else None)

    def stream(self, filters: Filters) -> Iterator[Event]:
        """Every event matching ``filters``, newest first, fetched a thousand at a time (a server-side cursor)."""
        query = select(events).where(*_conditions(filters)).order_by(events.c.at.desc(), events.c.id.desc())
        with self.engine.connect() as connection:
            result = connection.execution_options(yield_per=STREAM_ROWS).execute(query)
            for row in result:
                yield _event(row)

    def prune(self, keep_days: int, now: datetime) -> int:
        """Delete events older than ``keep_days`` days before ``now`` (0: none), a batch at a time; how many."""
        if keep_days <= 0:
            return 0
        horizon = now - timedelta(days=keep_days)
        deleted = 0
        while True:
            oldest = select(events.c.id).where(events.c.at < horizon).order_by(events.c.at).limit(PRUNE_BATCH)
            with self.engine.begin() as connection:
                count = connection.execute(delete(events).where(events.c.id.in_(oldest.scalar_subquery()))).rowcount
            deleted += count
            if count < PRUNE_BATCH:
                return deleted

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())
