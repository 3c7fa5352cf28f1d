"""The portal's gallery API as this server's member sees it: the same address, token and renewal as the
contents manager's storage calls (the storage token names the member), and the portal's answers passed on
as they came, status and JSON error included."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from appliance.errors import error_body
from appliance.storage.api_client import StorageClient

STORAGE_API = "/api/storage/v1"
GALLERY_API = "/api/gallery/v1"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class PortalUnconfigured(Exception):
    """The server's storage address gives no way to the portal's gallery."""


def gallery_api_url(storage_url: str) -> str:
    """The gallery API beside the storage API on the portal (both are the portal's own paths)."""
    base = storage_url.rstrip("/")
    if not base.endswith(STORAGE_API):
        raise PortalUnconfigured(f"The storage address {storage_url!r} (RemoteContentsManager.storage_url) does "
                                 f"not end in {STORAGE_API}, so the portal's gallery API cannot be found beside it.")
    return base.removesuffix(STORAGE_API) + GALLERY_API


class PortalGallery:
    """Calls to ``/api/gallery/v1`` as the storage token's member."""

    def __init__(self, storage: StorageClient):
        self.storage = storage
        self.base = gallery_api_url(storage.url)

    async def publish(self, payload: dict[str, Any]) -> Answer:
        return await self._send("POST", "/publications", content=json.dumps(payload).encode())

    async def publications(self, path: str) -> Answer:
        return await self._send("GET", "/publications", params={"path": path})

    async def publication(self, slug: str) -> Answer:
        return await self._send("GET", f"/publications/{quote(slug, safe='')}")

    async def me(self) -> Answer:
        return await self._send("GET", "/me")

    async def _send(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    content: bytes | None = None) -> Answer:
        url = URL(self.base + path, encoded=True)
        try:
            reply = await self.storage.authorized(method, url, params=params, content=content,
                                                  content_type="application/json" if content else None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return Answer(503, error_body(f"The portal's gallery is unreachable ({type(error).__name__}); "
                                          "try again in a moment.", 503))
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            status = reply.status if reply.status >= 400 else 502
            text = reply.body[:200].decode("utf-8", "replace").strip()
            return Answer(status, error_body(f"The portal's gallery answered HTTP {reply.status} without the "
                                             f"expected JSON: {text or '(empty)'}", status))
        return Answer(reply.status, body)
