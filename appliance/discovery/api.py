"""The discovery API on the portal origin.

For hubs (``Authorization: Bearer <the hub's credential>``):

    POST /api/discovery/v1/hubs/{id}/register           {"spawner", "isolation"} → {"epoch", "members",
                                                        "heartbeat_interval_s", "suspect_after_s", "dead_after_s",
                                                        "fence_after", "access_cursor"}; the hub then records
                                                        its heartbeats itself (beats.py)
    GET  /api/discovery/v1/hubs/{id}/access-endings?since=N
                                                        {"access_endings": [{"id", "username", "reason",
                                                        "ended_at"}…], "access_cursor"}: the members whose
                                                        access ended after the cursor N, oldest first, up to
                                                        a batch (the hub signs them out, and asks again)
    GET  /api/discovery/v1/hubs/{id}/members/{username} whether the member is assigned to this hub (a hub
                                                        admits no one else)

For the signed-in member's browser (the portal session):

    GET  /api/discovery/v1/me                           {"hub", "state", "moved", "path"}: where their
                                                        research happens, placing them on first visit

Errors use the portal's JSON shape.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.discovery.errors import BadRequest, DiscoveryError, NoSuchHub, UnknownHub
from appliance.discovery.registry import HubRegistry
from appliance.web import json_error, json_message

PREFIX = "/api/discovery/v1"
SessionUser = Callable[[Request], Awaitable[str | None]]
REGISTER_OVERLAP_S = 2.0  # a hub registering again hears endings from this long before its last heartbeat


class AccessFeed(Protocol):
    """Where members' access endings come from (identity's AccessEndings, wired in by the portal)."""

    async def since(self, cursor: int) -> tuple[list[dict[str, Any]], int]:
        """The endings after ``cursor`` (JSON objects, oldest first) and the next cursor."""

    async def cursor_at(self, age_s: float | None) -> int:
        """The cursor of the last ending older than ``age_s`` seconds; None: of the newest ending."""


class DiscoveryAPI:
    def __init__(self, registry: HubRegistry, session_user: SessionUser, access: AccessFeed,
                 configured: Callable[[str], Awaitable[bool]]):
        self.registry = registry
        self.session_user = session_user
        self.access = access
        self.configured = configured  # whether a hub is one of this appliance's (a removed node's is not)

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/hubs/{{hub_id}}/register", self._guarded(self.register), methods=["POST"]),
            Route(f"{PREFIX}/hubs/{{hub_id}}/access-endings", self._guarded(self.access_endings), methods=["GET"]),
            Route(f"{PREFIX}/hubs/{{hub_id}}/members/{{username}}", self._guarded(self.member), methods=["GET"]),
            Route(f"{PREFIX}/me", self._guarded(self.me), methods=["GET"], name="discovery_me"),
        ]

    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except DiscoveryError as error:
                return json_error(error)

        return endpoint

    def _hub(self, request: Request) -> tuple[str, str]:
        """The hub this call comes from, with its credential, checked before anything of the call is read."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise UnknownHub("a hub credential is required (Authorization: Bearer …).")
        hub_id: str = request.path_params["hub_id"]
        self.registry.credentials.check(hub_id, credential.strip())
        return hub_id, credential.strip()

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BadRequest("the request body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object.")
        return body

    async def register(self, request: Request) -> Response:
        hub_id, credential = self._hub(request)
        if not await self.configured(hub_id):
            raise NoSuchHub(f"hub {hub_id} is neither one of the portal machine's hubs nor a joined node's (a node "
                            "removed with `appliance nodes remove`?): stop the appliance on its machine, or join it "
                            "again with a new token.")
        body = await self._body(request)
        previous = next((hub for hub in await self.registry.hubs() if hub.id == hub_id), None)
        epoch, members = await self.registry.register(hub_id, credential, str(body.get("spawner", "")),
                                                      str(body.get("isolation", "")), str(body.get("version", ""))[:64])
        # a hub back after a while hears the endings it missed; a new one starts from now
        age_s = previous.heartbeat_age_s if previous is not None else None
        cursor = await self.access.cursor_at(age_s + REGISTER_OVERLAP_S if age_s is not None else None)
        settings = self.registry.settings
        return JSONResponse({"epoch": epoch, "members": members, "heartbeat_interval_s": settings.heartbeat_interval_s,
                             "suspect_after_s": settings.suspect_after_s, "dead_after_s": settings.dead_after_s,
                             "fence_after": settings.fence_after, "access_cursor": cursor})

    async def access_endings(self, request: Request) -> Response:
        self._hub(request)
        try:
            since = int(request.query_params.get("since", ""))
        except ValueError:
            since = -1
        if not 0 <= since < 2**63:
            raise BadRequest("access-endings needs ?since=N, the last ending the hub handled (0 for none).")
        endings, cursor = await self.access.since(since)
        return JSONResponse({"access_endings": endings, "access_cursor": cursor})

    async def member(self, request: Request) -> Response:
        hub_id, _ = self._hub(request)
        placement = await self.registry.assignment(request.path_params["username"])
        return JSONResponse({"assigned": placement == hub_id, "hub": placement})

    async def me(self, request: Request) -> Response:
        username = await self.session_user(request)
        if username is None:
            return json_message("sign in first.", 401)
        return JSONResponse(await self.placement_of(username))

    async def placement_of(self, username: str) -> dict[str, Any]:
        """The member's hub as ``/me`` answers it; the Research page also carries it from the start."""
        placement = await self.registry.placement(username)
        return {"hub": placement.hub_id, "state": placement.hub_state, "moved": placement.moved,
                "path": f"/hubs/{placement.hub_id}/"}
