"""The publish API on the portal origin, for members' servers (the JupyterLab extension's Publish dialog).

    POST /api/gallery/v1/publications             {"notebook": <the .ipynb's JSON>, "path", "title", "summary",
                                                  "tags": [...], "visibility": "lab" | "unlisted" | "group:<name>",
                                                  "strip_outputs": false, "new_version_of": null | "<slug>"}
                                                  → 201 {"slug", "version", "url", "state": "queued"}
    GET  /api/gallery/v1/publications?path=P      {"publications": [{"slug", "title", "version", "url", "state",
                                                  "error", "position", ...}]}: the member's own (from P only)
    GET  /api/gallery/v1/publications/{slug}      the member's own publication and its render's state: "queued"
                                                  (``position``: renders ahead of it), "rendering", "done" or
                                                  "failed" (``error``: why, for the author); 410 once unpublished
    GET  /api/gallery/v1/me                       {"username", "groups"}: the dialog's visibility choices

Every call carries ``Authorization: Bearer <storage token>``: the member's server holds one, and the
storage's own check (signature, expiry, the member's standing) decides who is calling. The server is the
member's to control: nothing it sends is trusted beyond "this member publishes this notebook".
Errors use the portal's JSON shape ``{"ok": false, "error", "status"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.errors import ApplianceError
from appliance.gallery.errors import BadRequest
from appliance.gallery.publish import Publisher, Status
from appliance.gallery.settings import GallerySettings
from appliance.gallery.submission import body_limit, parse_submission, too_large
from appliance.web import json_error

PREFIX = "/api/gallery/v1"
IN_THREAD_BYTES = 256 * 1024  # bodies above this are parsed and checked off the event loop,
# this many at once: a 24 MB notebook peaked at ~100 MB (besides its body) while parsed, checked, compressed
PARSE_SLOTS = 2
Handler = Callable[[Request, str], Awaitable[Response]]  # with the calling member's username
Authenticate = Callable[[Request], Awaitable[str]]  # the member a request's bearer token names, or raise


def publication_url(portal_origin: str, slug: str) -> str:
    return f"{portal_origin}/gallery/p/{slug}"


class GalleryAPI:
    def __init__(self, publisher: Publisher, authenticate: Authenticate, settings: GallerySettings,
                 portal_origin: str):
        """``authenticate``: the storage API's bearer-token check (it raises a 401 error)."""
        self.publisher = publisher
        self.authenticate = authenticate
        self.settings = settings
        self.portal_origin = portal_origin
        self._parsing = asyncio.Semaphore(PARSE_SLOTS)

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/publications", self._guarded(self.publications), methods=["GET", "POST"]),
            Route(f"{PREFIX}/publications/{{slug}}", self._guarded(self.publication), methods=["GET"]),
            Route(f"{PREFIX}/me", self._guarded(self.me), methods=["GET"]),
        ]

    def _guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, await self.authenticate(request))
            except ApplianceError as error:
                return json_error(error)

        return endpoint

    async def publications(self, request: Request, username: str) -> Response:
        if request.method == "POST":
            return await self.publish(request, username)
        found = await self.publisher.mine(username, request.query_params.get("path"))
        return JSONResponse({"publications": [self._json(status) for status in found]})

    async def publish(self, request: Request, username: str) -> Response:
        member = await self.publisher.member(username)  # a disabled or unknown member is refused before the upload
        limit = self.settings.max_size_bytes
        body = await self._read_body(request, limit)
        if len(body) > IN_THREAD_BYTES:
            async with self._parsing:
                submission = await asyncio.to_thread(parse_submission, body, limit)
        else:
            submission = parse_submission(body, limit)
        published = await self.publisher.publish(member, submission)
        return JSONResponse({"slug": published.slug, "version": published.version,
                             "url": publication_url(self.portal_origin, published.slug), "state": "queued"},
                            status_code=201)

    @staticmethod
    async def _read_body(request: Request, limit: int) -> bytes:
        """The body, refused with 413 as soon as it is longer than a notebook of ``limit`` bytes can make."""
        most = body_limit(limit)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > most:
            raise too_large(int(declared), limit)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > most:
                    raise too_large(size, limit)
                chunks.append(chunk)
        except ClientDisconnect:
            raise BadRequest("the upload was cut off before its end; publish again.") from None
        return b"".join(chunks)

    async def publication(self, request: Request, username: str) -> Response:
        return JSONResponse(self._json(await self.publisher.status(username, request.path_params["slug"])))

    async def me(self, request: Request, username: str) -> Response:
        member = await self.publisher.member(username)
        return JSONResponse({"username": member.username, "groups": sorted(member.groups)})

    def _json(self, status: Status) -> dict[str, Any]:
        return {**status.to_json(), "url": publication_url(self.portal_origin, status.slug)}
