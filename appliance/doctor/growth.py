"""How fast the appliance's databases grow: the portal writes today's size every hour (``keep_recording``),
`appliance doctor` reads the growth over the last week."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert

from appliance.admin.system import database_sizes
from appliance.doctor.tables import database_sizes as sizes_table

log = logging.getLogger("appliance.doctor")
RECORD_EVERY_S = 3600.0
WINDOW_DAYS = 7
KEEP_DAYS = 400


def record_size(engine: Engine, today: date) -> int:
    """Write the databases' total size as today's; forget days older than KEEP_DAYS. Returns the size."""
    total = sum(database_sizes(engine)[1].values())
    with engine.begin() as connection:
        statement = insert(sizes_table).values(day=today, bytes=total)
        connection.execute(statement.on_conflict_do_update(index_elements=["day"], set_={"bytes": total}))
        connection.execute(sizes_table.delete().where(sizes_table.c.day < today - timedelta(days=KEEP_DAYS)))
    return total


def growth_per_day(engine: Engine, today: date, size_now: int) -> int | None:
    """Bytes a day the databases grew from the oldest day of the last week recorded to ``size_now``; None
    until a day before today is recorded."""
    with engine.connect() as connection:
        oldest = connection.execute(
            select(sizes_table.c.day, sizes_table.c.bytes)
            .where(sizes_table.c.day >= today - timedelta(days=WINDOW_DAYS), sizes_table.c.day < today)
            .order_by(sizes_table.c.day).limit(1)).first()
    if oldest is None:
        return None
    days: int = (today - oldest.day).days
    return round((size_now - int(oldest.bytes)) / days)


async def keep_recording(engine: Engine, every_s: float = RECORD_EVERY_S) -> None:
    """Record today's size now and every ``every_s`` until cancelled; a failure is logged and tried again. A
    cancelled task ends once the recording under way has (its thread cannot be stopped, and the engine it uses is
    disposed of after: a connection it held then would be left to the garbage collector, open)."""
    from datetime import datetime, timezone

    while True:
        recording = asyncio.ensure_future(asyncio.to_thread(record_size, engine, datetime.now(timezone.utc).date()))
        try:
            await asyncio.shield(recording)
        except asyncio.CancelledError:
            await asyncio.wait([recording])
            raise
        except Exception:
            log.exception("could not record the databases' size (`appliance doctor` reads it); trying again later")
        await asyncio.sleep(every_s)
