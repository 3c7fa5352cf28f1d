"""A person's page: their account with what the rest of the appliance knows of them, gathered at once.

The hub they are on, their server's state (since when, memory, last activity), the storage they use
and their publications come from other components through the callables handed in (portal/app.py
wires them). Each is asked concurrently with a timeout, and one that fails or is slow shows as
unknown with the reason: a dead hub must not take the page down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from appliance.admin.errors import AdminError
from appliance.admin.people import Record, no_record

if TYPE_CHECKING:
    from appliance.identity import Account

log = logging.getLogger("appliance.admin")
ASK_TIMEOUT_S = 3.0
T = TypeVar("T")


@dataclass(frozen=True)
class Server:
    """The person's server as their hub sees it; ``state`` is running, starting, stopping, stopped or unknown."""

    hub: str | None
    state: str
    since: str | None = None  # ISO 8601
    last_activity: str | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    problem: str | None = None  # why the state is unknown


class Servers(Protocol):
    """What the person's page needs of the hubs (portal/app.py adapts the hubs' API to it)."""

    def hub_ids(self) -> list[str]: ...

    async def server(self, username: str) -> Server: ...

    async def stop(self, username: str) -> None: ...

    async def move(self, username: str, hub_id: str) -> None: ...


class HubClient(Protocol):
    """One hub's API as the portal calls it (appliance.hub.client.HubAPI)."""

    async def server(self, username: str) -> Any: ...  # .state, .since, .last_activity

    async def memory(self, username: str) -> tuple[int | None, int | None]: ...

    async def stop(self, username: str) -> object: ...


AssignmentOf = Callable[[str], Awaitable["str | None"]]  # the hub discovery placed a member on, if any
MoveTo = Callable[[str, str], Awaitable[Any]]  # (username, hub id): discovery places them there


class HubServers:
    """Servers on the hubs: the person's hub from discovery, their server from that hub's API."""

    def __init__(self, hubs: Mapping[str, HubClient], assignment_of: AssignmentOf, move_to: MoveTo):
        self.hubs = hubs
        self.assignment_of = assignment_of
        self.move_to = move_to

    def hub_ids(self) -> list[str]:
        return list(self.hubs)

    async def server(self, username: str) -> Server:
        hub_id = await self.assignment_of(username)
        hub = self.hubs.get(hub_id or "")
        if hub_id is None or hub is None:
            return Server(hub_id, "stopped")
        found = await hub.server(username)
        used, limit = await hub.memory(username) if found.state == "running" else (None, None)
        return Server(hub_id, found.state, found.since, found.last_activity, used, limit)

    async def stop(self, username: str) -> None:
        hub_id = await self.assignment_of(username)
        hub = self.hubs.get(hub_id or "")
        if hub is None:
            raise AdminError(f"{username} is on no live hub, so no server of theirs runs.", status=409)
        await hub.stop(username)

    async def move(self, username: str, hub_id: str) -> None:
        """Stop their server where it runs, then place them on ``hub_id``: their next visit starts it there."""
        if hub_id not in self.hubs:
            raise AdminError(f"there is no hub {hub_id!r}: the hubs are {', '.join(self.hubs) or 'none'}.", status=404)
        current = await self.assignment_of(username)
        if current == hub_id:
            raise AdminError(f"{username} is on hub {hub_id} already.", status=409)
        if current is not None and current in self.hubs:
            await self.hubs[current].stop(username)
        await self.move_to(username, hub_id)


class NoServers:
    """Where no hub can be asked (tests of People alone)."""

    async def server(self, username: str) -> Server:
        return Server(None, "unknown", problem="the portal was started without its hubs")

    def hub_ids(self) -> list[str]:
        return []

    async def stop(self, username: str) -> None:
        raise AdminError("the portal cannot reach the hubs here, so it cannot stop a server.", status=503)

    async def move(self, username: str, hub_id: str) -> None:
        raise AdminError("the portal cannot reach the hubs here, so it cannot move anyone.", status=503)


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int


@dataclass(frozen=True)
class Publication:
    slug: str
    title: str
    state: str  # as the gallery says: published, hidden, unpublished


@dataclass(frozen=True)
class PersonView:
    account: Account
    server: Server
    usage: Usage | None
    publications: list[Publication] | None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"person": self.account.public(), "server": self.server.__dict__,
                "storage": self.usage.__dict__ if self.usage else None,
                "publications": [item.__dict__ for item in self.publications] if self.publications is not None
                else None, "problems": self.problems}


UsageOf = Callable[[str], Awaitable[Usage]]
PublicationsOf = Callable[[str], Awaitable[list[Publication]]]


async def nothing_used(username: str) -> Usage:
    return Usage(0, 0)


async def no_publications(username: str) -> list[Publication]:
    return []


class PersonFacts:
    """What the rest of the appliance knows of a person, and the actions on their server (recorded)."""

    def __init__(self, servers: Servers | None = None, usage_of: UsageOf = nothing_used,
                 publications_of: PublicationsOf = no_publications, record: Record = no_record,
                 timeout_s: float = ASK_TIMEOUT_S):
        self.servers = servers or NoServers()
        self.usage_of = usage_of
        self.publications_of = publications_of
        self.record = record
        self.timeout_s = timeout_s

    async def stop(self, actor: Any, account: Account) -> None:
        await self.servers.stop(account.username)
        await asyncio.to_thread(self.record, actor, "person.server-stopped", account.username)

    async def move(self, actor: Any, account: Account, hub_id: str) -> None:
        before = await self.servers.server(account.username)
        await self.servers.move(account.username, hub_id)
        await asyncio.to_thread(self.record, actor, "person.moved", account.username,
                                {"from": before.hub, "to": hub_id})

    async def view(self, account: Account) -> PersonView:
        problems: list[str] = []
        name = account.username
        server, usage, publications = await asyncio.gather(
            self._ask("their hub", self.servers.server(name), problems),
            self._ask("the storage", self.usage_of(name), problems),
            self._ask("the gallery", self.publications_of(name), problems))
        return PersonView(account, server or Server(None, "unknown", problem="; ".join(problems)), usage,
                          publications, problems)

    async def _ask(self, what: str, asking: Awaitable[T], problems: list[str]) -> T | None:
        try:
            return await asyncio.wait_for(asking, self.timeout_s)
        except asyncio.TimeoutError:
            problems.append(f"{what} did not answer within {self.timeout_s:g} s")
        except Exception as error:  # shown on the page as unknown, with the reason; logged for the operator
            log.warning("admin person page: asking %s failed: %r", what, error)
            problems.append(f"{what} could not be asked ({type(error).__name__}: {error})")
        return None
