"""The nodes schema. Only the nodes component reads or writes these tables.

A node is a machine that runs hubs for this appliance (the portal's own machine is not one). Its number N gives
its hubs their ids (N01, N02, …: settings.HUBS_PER_NODE), so a hub's id says which machine serves it. A join token
is stored as a digest, works once and expires.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, MetaData, Table, Text, false, func

metadata = MetaData(schema="nodes")

nodes = Table(
    "nodes",
    metadata,
    Column("number", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),  # the machine's host name, as it joined
    Column("address", Text, nullable=False),  # where the portal reaches its proxy and its hubs' APIs
    Column("proxy_port", Integer, nullable=False),
    Column("first_api_port", Integer, nullable=False),  # its first hub's API; the others follow
    Column("hub_count", Integer, nullable=False),
    Column("removing", Boolean, nullable=False, server_default=false()),  # draining, to be removed
    Column("joined_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

join_tokens = Table(
    "join_tokens",
    metadata,
    Column("digest", LargeBinary, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("node_number", Integer),  # the node that used it
)
