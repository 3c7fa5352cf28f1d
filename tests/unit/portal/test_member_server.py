"""The member's server on the portal (appliance.portal.member_server) against a scripted hub API: it acts
only for the session's member on their hub, with the hubs' service token, and relays JupyterHub's progress."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from appliance.config import load_config
from appliance.hub import addresses
from appliance.identity.csrf import CsrfSigner
from appliance.portal.member_server import STREAMS_PER_MEMBER, MemberServer

PORTAL = "http://lab.localhost:8000"
CSRF = CsrfSigner("secret")
SESSION = SimpleNamespace(account=SimpleNamespace(username="ada", groups=("physics",)), digest=b"ada-session")
RUNNING = {"name": "ada", "servers": {"": {"ready": True, "pending": None, "started": "2026-11-30T12:00:00Z",
                                           "last_activity": "2026-11-30T12:05:00Z", "url": "/hubs/1/user/ada/"}}}
PROGRESS = (b'data: {"progress": 0, "message": "Server requested"}\n\n'
            b'data: {"progress": 50, "message": "Spawning server..."}\n\n'
            b'data: {"progress": 100, "ready": true, "message": "Server ready at /hubs/1/user/ada/"}\n\n')


def hub(seen: list[httpx.Request], known: bool = True, start_answered: asyncio.Event | None = None
        ) -> httpx.MockTransport:
    """ada's hub: it knows her (or, not ``known``, answers 404 about her), and answers a start of her server
    once ``start_answered`` is set (as JupyterHub does once the server is up)."""
    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("/users/ada/server") and request.method == "POST" and start_answered is not None:
            await start_answered.wait()
        if not known and "/users/ada" in path:
            return httpx.Response(404)
        if path.endswith("/users/ada"):
            return httpx.Response(200, json=RUNNING)
        if path.endswith("/appliance/memory/ada"):
            return httpx.Response(200, json={"bytes": 150_000_000, "limit_bytes": None})
        if path.endswith("/users/ada/server/progress"):
            return httpx.Response(200, content=PROGRESS, headers={"Content-Type": "text/event-stream"})
        if path.endswith("/users/ada/server"):
            return httpx.Response(202 if request.method == "DELETE" else 201)
        return httpx.Response(404)
    return httpx.MockTransport(answer)


def portal(tmp_path: Path, seen: list[httpx.Request], signed_in: bool = True, hub_id: str | None = "1",
           hub_api: httpx.MockTransport | None = None, session: Any = SESSION) -> Starlette:
    config = load_config(home=tmp_path / "home", environ={"APPLIANCE_HUBS_COUNT": "2",
                                                          "APPLIANCE_HUBS_PROFILES": "big: memory=16G groups=big"})

    async def session_of(request: Request) -> Any:
        return session if signed_in else None

    async def assignment_of(username: str) -> str | None:
        return hub_id

    http = httpx.AsyncClient(transport=hub_api or hub(seen))
    server = MemberServer(config.addresses, config.home, session_of, assignment_of, CSRF, config.hubs.server_profiles(),
                          http)
    app = Starlette(routes=server.routes())
    app.state.starts_in_progress = lambda: asyncio.gather(*server.starting)
    return app


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=PORTAL)


async def test_the_state_is_the_members_own_on_their_hub_with_the_service_token(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    async with client(portal(tmp_path, seen)) as http:
        body = (await http.get("/api/research/v1/server", params={"user": "bob"})).json()
    assert body == {"ok": True, "hub": "1", "state": "running", "since": "2026-11-30T12:00:00Z",
                    "last_activity": "2026-11-30T12:05:00Z", "url": "/hubs/1/user/ada/",
                    "memory_bytes": 150_000_000, "memory_limit_bytes": None}
    token = (tmp_path / "home" / "secrets" / addresses.PORTAL_SERVICE_TOKEN_SECRET).read_text().strip()
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:8010/hubs/1/hub/api/users/ada",
                                          "http://127.0.0.1:8010/hubs/1/hub/api/appliance/memory/ada"]
    assert {r.headers["authorization"] for r in seen} == {f"token {token}"}
    seen.clear()
    async with client(portal(tmp_path, seen)) as http:  # the Research page's question: what runs, not how big
        body = (await http.get("/api/research/v1/server", params={"memory": "0"})).json()
    assert (body["state"], body["memory_bytes"], body["memory_limit_bytes"]) == ("running", None, None)
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:8010/hubs/1/hub/api/users/ada"]


async def test_nobody_and_a_member_without_a_hub_are_refused_before_any_hub_is_asked(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    async with client(portal(tmp_path, seen, signed_in=False)) as http:
        assert (await http.get("/api/research/v1/server")).status_code == 401
        assert (await http.post("/api/research/v1/server/stop")).status_code == 401
    async with client(portal(tmp_path, seen, hub_id=None)) as http:
        assert (await http.get("/api/research/v1/server/progress")).status_code == 409
    assert seen == []


async def test_stopping_needs_the_sessions_csrf_token_and_the_portals_origin(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    token = CSRF.token(b"session:" + SESSION.digest)
    async with client(portal(tmp_path, seen)) as http:
        stop = "/api/research/v1/server/stop"
        assert (await http.post(stop, headers={"Origin": PORTAL})).status_code == 403
        assert (await http.post(stop, headers={"Origin": "http://ada.hub.lab.localhost:8000",
                                               "X-CSRF-Token": token})).status_code == 403
        assert seen == []
        stopped = await http.post(stop, headers={"Origin": PORTAL, "X-CSRF-Token": token})
    assert stopped.json()["state"] == "stopping" and [(r.method, r.url.path) for r in seen] == [
        ("DELETE", "/hubs/1/hub/api/users/ada/server")]


async def test_a_member_the_hub_never_saw_is_asked_to_sign_in_to_it_first(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    never_answered = asyncio.Event()  # however slowly the hub would refuse a start: it is not asked for one
    token = CSRF.token(b"session:" + SESSION.digest)
    app = portal(tmp_path, seen, hub_api=hub(seen, known=False, start_answered=never_answered))
    async with client(app) as http:
        started = await http.post("/api/research/v1/server/start", headers={"Origin": PORTAL, "X-CSRF-Token": token})
        never_answered.set()
    assert started.json() == {"ok": True, "hub": "1", "state": "stopped", "sign_in": True}
    assert [(r.method, r.url.path) for r in seen] == [("GET", "/hubs/1/hub/api/users/ada")]


async def test_a_start_is_answered_while_the_hub_is_still_starting_the_server(tmp_path: Path) -> None:
    """JupyterHub answers a start once the server is up: the page follows its progress meanwhile."""
    seen: list[httpx.Request] = []
    server_up = asyncio.Event()
    token = CSRF.token(b"session:" + SESSION.digest)
    app = portal(tmp_path, seen, hub_api=hub(seen, start_answered=server_up))
    starts: Callable[[], Awaitable[list[bool]]] = app.state.starts_in_progress
    async with client(app) as http:
        started = await http.post("/api/research/v1/server/start", headers={"Origin": PORTAL, "X-CSRF-Token": token})
        assert not server_up.is_set()
        assert started.json() == {"ok": True, "hub": "1", "state": "starting", "sign_in": False}
        server_up.set()
        assert await starts() == [True]  # the start went on: the hub answered it once the server was up
    assert [(r.method, r.url.path) for r in seen] == [("GET", "/hubs/1/hub/api/users/ada"),
                                                      ("POST", "/hubs/1/hub/api/users/ada/server")]


async def test_a_start_asks_the_hub_for_the_profile_chosen_only_if_the_members_groups_allow_it(
        tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    token = CSRF.token(b"session:" + SESSION.digest)
    headers = {"Origin": PORTAL, "X-CSRF-Token": token}
    start = "/api/research/v1/server/start"
    async with client(portal(tmp_path, seen)) as http:
        refused = await http.post(start, headers=headers, json={"profile": "big"})
        assert refused.status_code == 403 and "'big' is for members of big; you are not one" in refused.json()["error"]
        assert (await http.post(start, headers=headers, json={"profile": "huge"})).status_code == 403
        assert (await http.post(start, headers=headers, content=b"[not json")).status_code == 400
        assert (await http.post(start, headers=headers, content=b"{" + b" " * 5000 + b"}")).status_code == 413
        assert seen == []  # nothing reached the hub
        assert (await http.post(start, headers=headers)).status_code == 200  # no body: standard
    big = SimpleNamespace(account=SimpleNamespace(username="ada", groups=("big",)), digest=SESSION.digest)
    app = portal(tmp_path, seen, session=big)
    async with client(app) as http:
        assert (await http.post(start, headers=headers, json={"profile": "big"})).status_code == 200
        await app.state.starts_in_progress()
    asked = [json.loads(r.content) for r in seen if r.method == "POST"]
    assert asked == [{"profile": "standard"}, {"profile": "big"}]


async def test_jupyterhubs_progress_events_are_relayed_as_they_come(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    async with client(portal(tmp_path, seen)) as http:
        response = await http.get("/api/research/v1/server/progress")
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.strip().split("\n\n")
    assert blocks[0] == "retry: 500"
    events = [json.loads(block.removeprefix("data: ")) for block in blocks[1:]]
    assert [event["message"] for event in events] == ["Server requested", "Spawning server...",
                                                     "Server ready at /hubs/1/user/ada/"]
    assert events[-1]["ready"] is True and {event["hub"] for event in events} == {"1"}
    assert STREAMS_PER_MEMBER >= 1
