"""The member's server passes the portal's gallery answers on as they came (status and JSON), says so when
the portal answers without JSON or not at all, and sends the member's storage token (appliance.singleuser)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from appliance.singleuser.portal import PortalGallery
from appliance.storage.api_client import StorageClient
from appliance.storage.renewal import StorageToken

seen: list[tuple[str, str, str, bytes]] = []


async def answer(request: web.Request) -> web.Response:
    body = await request.read()
    seen.append((request.method, request.path_qs, request.headers.get("Authorization", ""), body))
    if request.path.endswith("/publications") and request.method == "POST":
        return web.json_response({"ok": False, "error": "a title is required", "status": 400}, status=400)
    if request.path.endswith("/me"):
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")
    return web.json_response({"publications": []})


@pytest.fixture
async def portal() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    seen.clear()
    yield f"http://127.0.0.1:{port}/api/storage/v1"
    await runner.cleanup()


async def test_the_portals_answers_pass_through_with_the_members_token(portal: str) -> None:
    storage = StorageClient(portal, StorageToken("the-token"), timeout_s=5)
    gallery = PortalGallery(storage)
    try:
        refused = await gallery.publish({"path": "a.ipynb", "title": ""})
        assert (refused.status, refused.body) == (400, {"ok": False, "error": "a title is required", "status": 400})
        listed = await gallery.publications("a b/c.ipynb")
        assert (listed.status, listed.body) == (200, {"publications": []})
        html = await gallery.me()
        assert html.status == 502
        assert html.body["error"] == ("The portal's gallery answered HTTP 502 without the expected JSON: "
                                      "<html>Bad gateway</html>")
        await gallery.publication("x/../y")
    finally:
        await storage.aclose()
    assert [(method, path, token) for method, path, token, _ in seen] == [
        ("POST", "/api/gallery/v1/publications", "Bearer the-token"),
        ("GET", "/api/gallery/v1/publications?path=a+b/c.ipynb", "Bearer the-token"),
        ("GET", "/api/gallery/v1/me", "Bearer the-token"),
        ("GET", "/api/gallery/v1/publications/x%2F..%2Fy", "Bearer the-token")]
    assert json.loads(seen[0][3]) == {"path": "a.ipynb", "title": ""}


async def test_an_unreachable_portal_is_a_503_that_says_so() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        storage = StorageClient(f"http://127.0.0.1:{port}/api/storage/v1", StorageToken("t"), timeout_s=5)
        try:
            answer = await PortalGallery(storage).me()
        finally:
            await storage.aclose()
    assert answer.status == 503
    assert answer.body["error"].startswith("The portal's gallery is unreachable (")
