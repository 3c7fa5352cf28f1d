"""The render host in-process: only the render paths answer, sandboxed, by signed link, never a cookie
(gallery/rendered.py)."""

from __future__ import annotations

import zlib
from datetime import datetime, timezone
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from appliance.gallery.rendered import RenderedNotebooks, RenderedPage, RenderHost, RenderLinks

PORTAL, RENDER = "http://lab.localhost:8001", "http://0-render.hub.lab.localhost:8001"
PAGE = b"<html><body><script>alert(1)</script>rendered</body></html>"


def portal_with_render_host(tmp_path: Path, clock: list[float]) -> tuple[httpx.AsyncClient, RenderLinks]:
    (tmp_path / "mathjax").mkdir()
    (tmp_path / "mathjax" / "font.woff").write_bytes(b"wOFF")
    pages = {("abc", 1): RenderedPage(7, zlib.compress(PAGE), datetime(2026, 11, 30, tzinfo=timezone.utc))}
    links = RenderLinks("key", RENDER, lifetime_s=60, clock=lambda: clock[0])
    rendered = RenderedNotebooks(lambda slug, number: pages.get((slug, number)), links, PORTAL, assets=tmp_path)

    def portal_page(request: object) -> PlainTextResponse:
        response = PlainTextResponse("the portal")
        response.set_cookie("session", "secret")
        return response

    app = Starlette(routes=[Route("/{path:path}", portal_page), *rendered.portal_routes()],
                    middleware=[Middleware(RenderHost, hosts=rendered.hosts, render_app=rendered.host_app())])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=RENDER), links


async def test_a_signed_link_shows_the_render_sandboxed_and_nothing_else_answers_there(tmp_path: Path) -> None:
    clock = [1000.0]
    client, links = portal_with_render_host(tmp_path, clock)
    url = links.url("abc", 1)
    assert url.startswith(f"{RENDER}/gallery/rendered/abc/v/1?expires=1060&sig=")
    response = await client.get(url)
    assert response.status_code == 200 and response.content == PAGE
    assert response.headers["content-encoding"] == "deflate"  # the stored zlib bytes, as they are
    policy = response.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts; default-src 'none'; ")  # no popups: they go anywhere
    for directive in (f"script-src {RENDER} 'unsafe-inline' 'unsafe-eval'", "connect-src 'none'",
                      "form-action 'none'", f"frame-ancestors {PORTAL}", "frame-src 'none'", "base-uri 'none'"):
        assert directive in policy
    assert response.headers["x-content-type-options"] == "nosniff" and "x-frame-options" not in response.headers
    assert "set-cookie" not in response.headers
    assert (await client.get(url, headers={"accept-encoding": "identity"})).content == PAGE
    cached = await client.get(url, headers={"if-none-match": response.headers["etag"]})
    assert cached.status_code == 304 and cached.headers["content-security-policy"] == policy

    for path in ("/", "/login", "/gallery", "/api/status", "/gallery/rendered/abc/v/1",  # unsigned
                 url.replace("sig=", "sig=x"), url.replace("/v/1", "/v/2"), "/gallery/assets/missing.js"):
        refused = await client.get(path)
        assert refused.status_code == 404 and "set-cookie" not in refused.headers, path
        assert refused.text == "Not Found" and "default-src 'none'" in refused.headers["content-security-policy"]
    clock[0] += 61
    assert (await client.get(url)).status_code == 404  # expired


async def test_assets_answer_with_cors_for_the_sandboxed_pages_fonts(tmp_path: Path) -> None:
    client, _ = portal_with_render_host(tmp_path, [0.0])
    font = await client.get("/gallery/assets/mathjax/font.woff")
    assert font.status_code == 200 and font.content == b"wOFF"
    assert font.headers["access-control-allow-origin"] == "*" and "max-age" in font.headers["cache-control"]
    assert "set-cookie" not in font.headers


async def test_the_portals_own_host_never_reaches_the_render_routes_and_vice_versa(tmp_path: Path) -> None:
    client, links = portal_with_render_host(tmp_path, [0.0])
    on_portal = await client.get(links.url("abc", 1).replace(RENDER, PORTAL))
    assert on_portal.text == "the portal"  # the portal app, not a render
    assert (await client.get("/login")).status_code == 404


async def test_without_a_render_host_renders_are_on_the_portals_origin_still_sandboxed(tmp_path: Path) -> None:
    pages = {("abc", 1): RenderedPage(7, zlib.compress(PAGE), datetime(2026, 11, 30, tzinfo=timezone.utc))}
    links = RenderLinks("key", PORTAL)
    rendered = RenderedNotebooks(lambda slug, number: pages.get((slug, number)), links, PORTAL, assets=tmp_path)
    assert rendered.hosts == frozenset()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(Starlette(routes=rendered.portal_routes())),
                               base_url=PORTAL)
    response = await client.get(links.url("abc", 1))
    assert response.status_code == 200 and response.headers["content-security-policy"].startswith("sandbox ")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
