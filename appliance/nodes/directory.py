"""The hub nodes this appliance knows, and the tokens that let a machine join as one."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine, func, select, text, update

from appliance.nodes.errors import JoinRefused, NodeError, UnknownNode
from appliance.nodes.settings import HUBS_PER_NODE
from appliance.nodes.tables import join_tokens, nodes

SPENT = ("this join token was already used or has expired; make a new one on the portal's machine with "
         "`appliance nodes token`.")
T = TypeVar("T")
JOIN_LOCK = 0x6E6F6465  # "node": joins number their nodes one at a time


@dataclass(frozen=True)
class Node:
    number: int
    name: str
    address: str
    proxy_port: int
    first_api_port: int
    hub_count: int
    removing: bool

    @property
    def hub_ids(self) -> list[str]:
        return [str(self.number * HUBS_PER_NODE + k) for k in range(1, self.hub_count + 1)]

    @property
    def proxy_url(self) -> str:
        """The node's proxy, as the portal's front proxy forwards to it."""
        return f"http://{_host(self.address)}:{self.proxy_port}"

    def api_port(self, hub_id: str) -> int:
        return self.first_api_port + int(hub_id) - self.number * HUBS_PER_NODE - 1

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "address": self.address, "proxy_port": self.proxy_port,
                "hubs": self.hub_ids, "removing": self.removing}


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_COLUMNS = (nodes.c.number, nodes.c.name, nodes.c.address, nodes.c.proxy_port, nodes.c.first_api_port,
            nodes.c.hub_count, nodes.c.removing)


class NodeDirectory:
    def __init__(self, engine: Engine):
        self.engine = engine

    def new_token(self, lifetime_s: int) -> str:
        """A join token, usable once within ``lifetime_s``; shown once, stored as its digest."""
        value = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(join_tokens.insert().values(
                digest=digest(value), expires_at=func.now() + timedelta(seconds=lifetime_s)))
        return value

    def join(self, token: str, name: str, address: str, proxy_port: int, first_api_port: int, hub_count: int,
             prepare: Callable[[Node], T]) -> tuple[Node, T]:
        """Record a machine as a node, spending ``token``, once ``prepare`` (what the node needs elsewhere: its
        databases) has succeeded; the node and what ``prepare`` made. A refused join, or one whose ``prepare``
        raised, leaves the token unspent."""
        if not token or len(token) > 128:
            raise JoinRefused(SPENT)
        with self.engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": JOIN_LOCK})
            claimed = connection.execute(
                update(join_tokens).where(join_tokens.c.digest == digest(token), join_tokens.c.used_at.is_(None),
                                          join_tokens.c.expires_at > func.now())
                .values(used_at=func.now()).returning(join_tokens.c.digest)).first()
            if claimed is None:
                raise JoinRefused(SPENT)
            if connection.execute(select(nodes.c.number).where(nodes.c.name == name)).first():
                raise NodeError(f"a node named {name!r} has joined already; if this machine replaces it, remove "
                                f"the old one first on the portal's machine: appliance nodes remove {name}")
            number = connection.execute(select(func.coalesce(func.max(nodes.c.number), 0) + 1)).scalar_one()
            row = connection.execute(nodes.insert().values(
                number=number, name=name, address=address, proxy_port=proxy_port, first_api_port=first_api_port,
                hub_count=hub_count).returning(*_COLUMNS)).one()
            connection.execute(update(join_tokens).where(join_tokens.c.digest == claimed.digest)
                               .values(node_number=number))
            node = Node(*row)
            prepared = prepare(node)
        return node, prepared

    def nodes(self) -> list[Node]:
        with self.engine.connect() as connection:
            return [Node(*row) for row in connection.execute(select(*_COLUMNS).order_by(nodes.c.number))]

    def node(self, name: str) -> Node:
        with self.engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS).where(nodes.c.name == name)).first()
        if row is None:
            known = ", ".join(node.name for node in self.nodes()) or "none"
            raise UnknownNode(f"no node named {name!r}; nodes: {known} (appliance nodes list).")
        return Node(*row)

    def serves(self, hub_id: str) -> bool:
        """Whether ``hub_id`` is a hub of a node that has joined and is not being removed."""
        return any(hub_id in node.hub_ids for node in self.nodes() if not node.removing)

    def set_removing(self, name: str) -> Node:
        node = self.node(name)
        with self.engine.begin() as connection:
            connection.execute(update(nodes).where(nodes.c.number == node.number).values(removing=True))
        return self.node(name)

    def forget(self, name: str) -> None:
        node = self.node(name)
        with self.engine.begin() as connection:
            connection.execute(nodes.delete().where(nodes.c.number == node.number))
