"""The storage API's client in a member's server: one member's calls to the portal's ``/api/storage/v1``
(api.py), with the member's storage token, renewed before it expires (renewal.py).

Its errors are tornado's ``HTTPError``, the form jupyter_server's contents API passes on to the browser.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import aiohttp
from tornado.web import HTTPError
from yarl import URL

from appliance.storage.renewal import StorageToken


def refuse_outside(*paths: str) -> None:
    """404 for a path that tries to leave the namespace, as the file manager answers one."""
    for path in paths:
        if any(part in (".", "..") for part in path.split("/")):
            raise HTTPError(404, f"{path} is outside root contents directory")


@dataclass(frozen=True)
class Reply:
    """A storage API answer, read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StorageClient:
    """The storage API over one kept-alive connection pool (one per event loop).

    aiohttp rather than httpx: a call through httpx cost ~0.7 ms on its own, through aiohttp ~0.2 ms,
    and every contents request makes one or two of them."""

    def __init__(self, url: str, token: StorageToken, timeout_s: float):
        self.url = url.rstrip("/")
        self.token = token  # renewed from the hub before it expires (renewal.py)
        self.timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aiohttp.ClientSession(
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), connector=aiohttp.TCPConnector(limit=20))
            self._loop = loop
        return self._client

    async def call(self, method: str, verb: str, path: str, *, params: dict[str, str] | None = None,
                   content: bytes | None = None) -> Reply:
        """One storage call; a storage error becomes the tornado HTTPError jupyter_server expects."""
        refuse_outside(path)
        url = URL(f"{self.url}/{verb}/{quote(path.strip('/'), safe='/')}", encoded=True)
        try:
            reply = await self.authorized(method, url, params=params, content=content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise HTTPError(503, f"The notebook storage is unreachable ({type(exc).__name__}); "
                                 "try again in a moment.") from None
        if reply.status >= 400:
            try:
                message = reply.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = reply.body[:200].decode("utf-8", "replace") or HTTPStatus(reply.status).phrase
            raise HTTPError(reply.status, message)
        return reply

    async def authorized(self, method: str, url: URL, *, params: dict[str, str] | None = None,
                         content: bytes | None = None, content_type: str | None = None) -> Reply:
        """A request to ``url`` (the storage's, or another portal API's: the gallery's) as this server's
        member, whatever its answer; a token refused since it was sent is renewed and the request sent once
        more. Connection errors are raised."""
        token = await self.token.current(self._http())
        reply = await self._send(method, url, token, params, content, content_type)
        if reply.status == 401 and await self.token.renew(self._http(), token):  # refused since: once more
            reply = await self._send(method, url, self.token.value, params, content, content_type)
        return reply

    async def _send(self, method: str, url: URL, token: str, params: dict[str, str] | None,
                    content: bytes | None, content_type: str | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"}
        if content_type:
            headers["Content-Type"] = content_type
        async with self._http().request(method, url, params=params, data=content, headers=headers) as response:
            return Reply(response.status, response.headers, await response.read())

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def entry(self, path: str) -> dict[str, Any] | None:
        """The entry at ``path`` (the storage's stat), or None where there is none."""
        try:
            response = await self.call("GET", "stat", path)
        except HTTPError as error:
            if error.status_code == 404:
                return None
            raise
        entry: dict[str, Any] = response.json()
        return entry
