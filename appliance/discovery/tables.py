"""The discovery schema. Only the discovery component reads or writes these tables.

A hub's liveness is the age of its last heartbeat, measured by the database's clock (one clock for
every process). A hub proves who it is with a credential derived from the appliance's discovery
key (see registry.py), so nothing secret is stored here. ``epoch`` counts a hub's registrations: a
heartbeat names the epoch it belongs to, so one from before a restart is told apart from one after it.

``hub_samples`` is the hubs' history for the admin console's chart: every ``discovery.sample_interval_s`` the
portal copies each hub's counts into it (one row per hub and interval, whichever process writes it first),
and rows older than ``discovery.samples_keep_days`` are deleted.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    false,
    func,
    true,
)

metadata = MetaData(schema="discovery")

hubs = Table(
    "hubs",
    metadata,
    Column("id", Text, primary_key=True),  # "1", "2", …: its base_url is /hubs/<id>/
    Column("assigned", Integer, nullable=False, server_default="0"),  # kept in step with assignments
    Column("draining", Boolean, nullable=False, server_default=false()),  # an admin's: no new members
    Column("epoch", Integer, nullable=False, server_default="0"),
    Column("heartbeat_at", DateTime(timezone=True)),  # NULL until it first registers
    Column("running", Integer, nullable=False, server_default="0"),  # user servers, from its heartbeat
    Column("pending", Integer, nullable=False, server_default="0"),  # spawns under way
    Column("active", Integer, nullable=False, server_default="0"),  # members active lately, from its heartbeat
    Column("memory_bytes", BigInteger),  # the hub's and its servers' resident memory; NULL: not reported
    Column("restarting_until", DateTime(timezone=True)),  # a restart: not dead until then, or registered
    Column("down_since", DateTime(timezone=True)),  # its restart failed: dead until it registers again
    Column("spawner", Text, nullable=False, server_default=""),
    Column("isolation", Text, nullable=False, server_default=""),
    Column("version", Text, nullable=False, server_default=""),  # the appliance's, at its registration
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assignments = Table(
    "assignments",
    metadata,
    Column("username", Text, primary_key=True),
    Column("hub_id", Text, ForeignKey("discovery.hubs.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("assignments_hub", "hub_id"),
)

hub_samples = Table(
    "hub_samples",
    metadata,
    # keyed by time first: the chart reads a window of every hub, retention deletes the oldest
    Column("at", DateTime(timezone=True), primary_key=True),  # the start of its sampling interval
    Column("hub_id", Text, primary_key=True),  # no foreign key: a retired hub's history stays until pruned
    Column("state", Text, nullable=False),
    Column("members", Integer, nullable=False),
    Column("active", Integer, nullable=False),
    Column("running", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("memory_bytes", BigInteger),
)

# One row: the registry's own heartbeat, written by the portal's reaper every heartbeat interval. When it
# finds its last one older than a gap, the registry was not listening (PostgreSQL or the portal was down):
# ``listening_since`` becomes now, and no hub's silence counts from before it (registry.py SILENCE).
registry = Table(
    "registry",
    metadata,
    Column("id", Boolean, primary_key=True, server_default=true()),
    Column("alive_at", DateTime(timezone=True)),
    Column("listening_since", DateTime(timezone=True)),
    CheckConstraint("id", name="registry_one_row"),
)
