"""The host names the portal answers to, and the header limits, on a minimal app."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from appliance.portal.guards import MAX_HEADER_COUNT, AllowedHosts, HeaderLimits, portal_hosts
from appliance.portal.settings import PortalSettings


def test_the_public_host_and_the_loopback_names_on_the_portals_port() -> None:
    hosts = portal_hosts("https://Lab.Example.org", PortalSettings(host="0.0.0.0", port=8000))
    assert hosts == {"lab.example.org", "lab.example.org:443", "127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    trial = portal_hosts("http://lab.localhost:8001", PortalSettings(host="127.0.0.1", port=8000))
    assert "lab.localhost:8001" in trial and "lab.localhost" not in trial and "127.0.0.1:8001" not in trial
    own_address = portal_hosts("http://10.0.0.5:8000", PortalSettings(host="10.0.0.5", port=8000))
    assert "10.0.0.5:8000" in own_address and "10.0.0.5" not in own_address


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"page for {request.url}")


def guarded() -> Starlette:
    hosts = portal_hosts("https://lab.example.org", PortalSettings(port=8000))
    return Starlette(routes=[Route("/", page), Route("/api/x", page)], middleware=[
        Middleware(HeaderLimits), Middleware(AllowedHosts, hosts=hosts, public_url="https://lab.example.org")])


async def get(path: str, headers: dict[str, str] | list[tuple[str, str]]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guarded()), base_url="http://127.0.0.1:8000") as http:
        return await http.get(path, headers=headers)


async def test_a_foreign_host_gets_400_and_no_page() -> None:
    for host in ("evil.example", "lab.example.org.evil.example", "127.0.0.1:9999", "lab.example.org:8000", ""):
        refused = await get("/", {"Host": host})
        assert refused.status_code == 400 and "page for" not in refused.text, host
        assert "portal.public_url" in refused.text and "https://lab.example.org" in refused.text
    api = await get("/api/x", {"Host": "evil.example"})
    assert api.status_code == 400 and api.json()["ok"] is False and api.json()["status"] == 400
    for host in ("lab.example.org", "LAB.example.org:443", "127.0.0.1:8000", "localhost:8000"):
        assert (await get("/", {"Host": host})).status_code == 200, host


async def test_too_many_or_too_large_headers_get_431() -> None:
    many = await get("/", [(f"x-h{i}", "v") for i in range(MAX_HEADER_COUNT + 1)])
    assert many.status_code == 431 and "too large" in many.text
    large = await get("/", {"x-big": "a" * 100_000})
    assert large.status_code == 431 and "at most" in large.text
    assert (await get("/", {"x-ok": "a" * 4000})).status_code == 200
