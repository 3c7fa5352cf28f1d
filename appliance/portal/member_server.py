"""A member's own server, on the portal: its state and memory, stopping it, and JupyterHub's progress
events while it starts (the Research page shows them, then JupyterLab).

Every route acts for the member of the portal session, and only on the hub discovery placed them on; the
portal asks that hub with the hubs' ``portal`` service token (appliance.hub.client), which never reaches a
browser. A member can name no one else: no route takes a username. Stopping needs the session's CSRF token
(the ``X-CSRF-Token`` header, from the page's own forms) and the portal's own Origin. A member could open
many progress streams to tie up the portal's connections to the hub: each member gets at most
``STREAMS_PER_MEMBER`` at once (the Research page needs one), and a stream ends after ``STREAM_LIMIT_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from appliance.home import Home
from appliance.hub.addresses import Addresses
from appliance.hub.client import HubAPI
from appliance.hub.profiles import Profile, ProfileRefused, choose
from appliance.identity.csrf import CsrfSigner, same_origin
from appliance.web import json_message

if TYPE_CHECKING:
    from appliance.identity.sessions import Session

log = logging.getLogger("appliance.portal")

SessionOf = Callable[[Request], Awaitable["Session | None"]]
AssignmentOf = Callable[[str], Awaitable["str | None"]]  # the hub discovery placed a member on, if any
MAX_START_BODY = 4096
STREAMS_PER_MEMBER = 3
STREAM_LIMIT_S = 600.0  # longer than any hub's start timeout: the page opens a new stream if it still waits
RETRY_MS = 500  # how soon the browser's EventSource asks again after a stream ends
NOT_SIGNED_IN = "Sign in to see your server."
NO_HUB = "You have no hub yet: open Research and the portal places you on one."
HUB_UNREACHABLE = "Your hub {hub} did not answer ({error}); the page tries again in a few seconds."
NO_CSRF = "The request did not carry this page's CSRF token or came from another site: reload the page."


def error(message: str, status: int) -> JSONResponse:
    return json_message(message, status, {"Cache-Control": "no-store"})


async def _unmeasured() -> tuple[None, None]:
    return None, None


def sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


class MemberServer:
    def __init__(self, addresses: Addresses, home: Home, session_of: SessionOf, assignment_of: AssignmentOf,
                 csrf: CsrfSigner, profiles: list[Profile], http: httpx.AsyncClient | None = None):
        self.profiles = profiles  # standard first (hubs.profiles)
        self.session_of = session_of
        self.assignment_of = assignment_of
        self.csrf = csrf
        self.http = http or httpx.AsyncClient()
        self.hubs = {hub_id: HubAPI(addresses, home, hub_id, self.http) for hub_id in addresses.hub_ids}
        self.streams: Counter[str] = Counter()
        self.starting: set[asyncio.Task[bool]] = set()  # starts the hub has not answered (held: asyncio holds weakly)

    def routes(self) -> list[Route]:
        return [
            Route("/api/research/v1/server", self.state, name="member_server"),
            Route("/api/research/v1/server/start", self.start, methods=["POST"], name="member_server_start"),
            Route("/api/research/v1/server/stop", self.stop, methods=["POST"], name="member_server_stop"),
            Route("/api/research/v1/server/progress", self.progress, name="member_server_progress"),
        ]

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _member(self, request: Request) -> tuple[str, str, HubAPI] | Response:
        """(username, hub id, that hub's API) for the session's member, or the JSON refusal."""
        session = await self.session_of(request)
        if session is None:
            return error(NOT_SIGNED_IN, 401)
        username = session.account.username
        hub_id = await self.assignment_of(username)
        if hub_id is None or hub_id not in self.hubs:
            return error(NO_HUB, 409)
        return username, hub_id, self.hubs[hub_id]

    async def state(self, request: Request) -> Response:
        """The member's server: running / starting / stopping / stopped, since when, and its memory.
        ``?memory=0`` leaves the memory out (null): measuring it walks the machine's processes, on the hub,
        while the Research page only asks what to do next."""
        member = await self._member(request)
        if isinstance(member, Response):
            return member
        username, hub_id, hub = member
        measured = request.query_params.get("memory") != "0"
        try:  # both at once: the Research page waits on this before it shows JupyterLab
            server, (used, limit) = await asyncio.gather(
                hub.server(username), hub.memory(username) if measured else _unmeasured())
        except httpx.HTTPError as failure:
            return error(HUB_UNREACHABLE.format(hub=hub_id, error=type(failure).__name__), 502)
        if server.state != "running":
            used = limit = None
        return JSONResponse({"ok": True, "hub": hub_id, **server.to_json(), "memory_bytes": used,
                             "memory_limit_bytes": limit}, headers={"Cache-Control": "no-store"})

    async def _unsafe(self, request: Request) -> tuple[str, str, HubAPI] | Response:
        """As ``_member``, for a request that changes something: the session's CSRF token and Origin too."""
        member = await self._member(request)
        if isinstance(member, Response):
            return member
        session = await self.session_of(request)
        token = request.headers.get("x-csrf-token", "")
        if session is None or not same_origin(request) or not self.csrf.check(b"session:" + session.digest, token):
            return error(NO_CSRF, 403)
        return member

    async def _act(self, request: Request, action: str) -> Response:
        """Start (with the server profile the body names, if the member's groups allow it) or stop the session's
        member's server on their hub."""
        member = await self._unsafe(request)
        if isinstance(member, Response):
            return member
        username, hub_id, hub = member
        profile = await self._profile(request) if action == "start" else None
        if isinstance(profile, Response):
            return profile
        try:
            known = await (hub.stop(username) if profile is None else self._start(username, hub, profile))
        except httpx.HTTPError as failure:
            return error(HUB_UNREACHABLE.format(hub=hub_id, error=type(failure).__name__), 502)
        log.info("%s: %s their server on hub %s from the portal", username, action, hub_id)
        state = ("starting" if known else "stopped") if action == "start" else "stopping"
        return JSONResponse({"ok": True, "hub": hub_id, "state": state, "sign_in": not known})

    async def _profile(self, request: Request) -> Profile | Response:
        """The profile the start's body names ({"profile": NAME}; none: standard), if the member may use it."""
        body = await request.body()
        if len(body) > MAX_START_BODY:
            return error("The start request is too large: it names a server profile, nothing more.", 413)
        try:
            asked = json.loads(body or b"{}").get("profile") or ""
        except (ValueError, AttributeError):
            return error('The start request is not JSON like {"profile": "standard"}.', 400)
        session = await self.session_of(request)
        groups = session.account.groups if session is not None else ()
        try:
            return choose(self.profiles, str(asked), groups)
        except ProfileRefused as refused:
            return error(str(refused), 403)

    async def _start(self, username: str, hub: HubAPI, profile: Profile) -> bool:
        """Start the member's server; False when their hub has never seen them (they sign in to it first).
        JupyterHub answers a start only once the server is up, or after its slow_spawn_timeout (10 s): the
        start goes on without the page, which follows its progress events meanwhile."""
        if not await hub.knows(username):
            return False
        task = asyncio.ensure_future(hub.start(username, {"profile": profile.name}))
        self.starting.add(task)
        task.add_done_callback(self._started)
        return True

    def _started(self, task: asyncio.Task[bool]) -> None:
        self.starting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a start from the portal failed at the hub: %s", task.exception())

    async def start(self, request: Request) -> Response:
        """Start the member's server. ``{"sign_in": true}`` when their hub has never seen them: the page
        signs them in to it first (its frame, through the portal's OAuth), then asks again."""
        return await self._act(request, "start")

    async def stop(self, request: Request) -> Response:
        return await self._act(request, "stop")

    async def progress(self, request: Request) -> Response:
        """Server-sent events: JupyterHub's progress events of the member's starting server, relayed as the
        hub sends them (``progress``, ``message``, then ``ready`` or ``failed``), or one ``waiting`` event
        when no start has begun yet; the browser's EventSource asks again after ``RETRY_MS``."""
        member = await self._member(request)
        if isinstance(member, Response):
            return member
        username, hub_id, hub = member
        if self.streams[username] >= STREAMS_PER_MEMBER:
            return error(f"At most {STREAMS_PER_MEMBER} progress streams at once; close other Research tabs.", 429)
        return StreamingResponse(self._relay(username, hub_id, hub), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _relay(self, username: str, hub_id: str, hub: HubAPI) -> AsyncIterator[str]:
        self.streams[username] += 1
        try:
            yield f"retry: {RETRY_MS}\n\n"
            async with asyncio.timeout(STREAM_LIMIT_S):
                async for event in hub.progress(username):
                    yield sse({**event, "hub": hub_id})
        except (httpx.HTTPError, TimeoutError) as failure:
            yield sse({"waiting": True, "hub": hub_id,
                       "message": HUB_UNREACHABLE.format(hub=hub_id, error=type(failure).__name__)})
        finally:
            self.streams[username] -= 1
            if not self.streams[username]:
                del self.streams[username]
