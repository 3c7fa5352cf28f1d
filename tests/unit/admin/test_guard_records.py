"""A refused admin token is a security event: the guard records it, bounded per address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from appliance.admin.guard import Admin, AdminGuard
from appliance.audit import Actor
from appliance.identity.csrf import CsrfSigner


async def no_session(request: Request) -> None:
    return None


async def no_token(value: str) -> None:
    return None


async def hello(request: Request, admin: Admin) -> Response:
    return PlainTextResponse("hello")


async def test_a_refused_admin_token_is_recorded_with_where_it_came_from_and_never_its_value() -> None:
    recorded: list[tuple[Actor, str, object, Mapping[str, Any] | None]] = []

    def record(actor: Actor, action: str, target: object = "", detail: Mapping[str, Any] | None = None) -> None:
        recorded.append((actor, action, target, detail))

    guard = AdminGuard(no_session, no_token, CsrfSigner("test"), record)
    app = Starlette(routes=[Route("/api/admin/v1/hello", guard.api(hello))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app, client=("10.0.0.9", 5000)),
                                 base_url="http://portal.test") as client:
        for _ in range(40):
            answer = await client.get("/api/admin/v1/hello", headers={"Authorization": "Bearer apat_guessed"})
            assert answer.status_code == 401
        assert (await client.get("/api/admin/v1/hello")).status_code == 401  # no credentials: not a refused token
    assert len(recorded) == 30  # a minute's bound from one address
    actor, action, _, detail = recorded[0]
    assert (actor.address, action) == ("10.0.0.9", "token.refused")
    assert detail is not None and detail["endpoint"] == "admin-api" and detail["path"] == "/api/admin/v1/hello"
    assert "apat_guessed" not in repr(recorded)
