"""The audit schema. Only the audit component reads or writes this table.

One row per event: who did it (``actor``: an account name, or ``cli:<os user>`` for the command line),
what (``action``, dotted: ``sign-in.failed``), to what (``target``), the rest (``detail``, JSON), from
where (``address``) and when (``at``, the moment it happened, not the moment it was written).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="audit")

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False, server_default=""),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("address", Text, nullable=False, server_default=""),
    # newest first, a page at a time (keyset on at, id); and pruning by age
    Index("events_at", "at", "id"),
    Index("events_actor_at", "actor", "at"),
    Index("events_action_at", "action", "at"),
)
