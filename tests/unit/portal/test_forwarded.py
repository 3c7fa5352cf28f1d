"""Forwarded headers count only from the front proxy: a loopback peer owned by the appliance's uid."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from appliance.portal.forwarded import TrustedProxyHeaders

APPLIANCE_UID, MEMBER_UID = 990, 1001


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"client": request.client.host if request.client else None, "scheme": request.url.scheme,
                         "forwarded": [name for name in request.headers if name.startswith("x-forwarded")]})


def app(owner_uid: int | None, seen: list[Any]) -> Starlette:
    def owner(client: tuple[str, int], server: tuple[str, int]) -> int | None:
        seen.append((client, server))
        return owner_uid

    return Starlette(routes=[Route("/", echo)],
                     middleware=[Middleware(TrustedProxyHeaders, trusted_uid=APPLIANCE_UID, owner=owner)])


async def call(owner_uid: int | None, client: tuple[str, int], headers: dict[str, str]) -> dict[str, Any]:
    seen: list[Any] = []
    transport = httpx.ASGITransport(app(owner_uid, seen), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        body: dict[str, Any] = (await http.get("/", headers=headers)).json()
    body["looked_up"] = seen
    return body


SPOOFED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}


async def test_the_front_proxys_last_hop_sets_client_and_scheme() -> None:
    # the proxy appends its own hop to what the client sent: only the last value is the proxy's
    body = await call(APPLIANCE_UID, ("127.0.0.1", 50000), {"X-Forwarded-For": "203.0.113.9, 198.51.100.7",
                                                           "X-Forwarded-Proto": "http,https"})
    assert body["client"] == "198.51.100.7" and body["scheme"] == "https"
    assert body["forwarded"] == []  # applied, then removed
    assert body["looked_up"] == [(("127.0.0.1", 50000), ("127.0.0.1", 8000))]


async def test_a_loopback_client_of_another_uid_is_ignored_and_its_headers_dropped() -> None:
    body = await call(MEMBER_UID, ("127.0.0.1", 50000), SPOOFED)
    assert body["client"] == "127.0.0.1" and body["scheme"] == "http" and body["forwarded"] == []


async def test_a_socket_nobody_owns_any_more_is_ignored() -> None:
    body = await call(None, ("127.0.0.1", 50000), SPOOFED)
    assert body["client"] == "127.0.0.1" and body["scheme"] == "http"


async def test_a_remote_client_is_never_looked_up() -> None:
    body = await call(APPLIANCE_UID, ("192.0.2.10", 50000), SPOOFED)
    assert body["client"] == "192.0.2.10" and body["scheme"] == "http" and body["forwarded"] == []
    assert body["looked_up"] == []


async def test_requests_without_forwarded_headers_cost_no_lookup() -> None:
    body = await call(APPLIANCE_UID, ("127.0.0.1", 50000), {})
    assert body["client"] == "127.0.0.1" and body["looked_up"] == []


async def test_values_that_are_not_an_address_or_a_scheme_are_ignored() -> None:
    body = await call(APPLIANCE_UID, ("127.0.0.1", 50000), {"X-Forwarded-For": "not-an-address",
                                                           "X-Forwarded-Proto": "gopher"})
    assert body["client"] == "127.0.0.1" and body["scheme"] == "http"
