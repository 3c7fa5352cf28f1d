"""A user server's storage token, renewed from its hub before it expires.

The hub gives the server a short-lived token at spawn (APPLIANCE_STORAGE_TOKEN) and the address to
renew it at (APPLIANCE_STORAGE_RENEW_URL, on the hub's API, called with the server's own JupyterHub
API token). The token is renewed once half its life is gone, at the next storage call: a server idle
for hours renews at its next save. After the member's access ended the storage refuses the old token
(401); one renewal is then tried, which the hub grants while the server's own token stands (a
sign-out, a password change) and refuses once it is gone (a disable stops the server).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable

import aiohttp

log = logging.getLogger("appliance.storage")


def expiry_of(token: str) -> tuple[float, float]:
    """(issued at, expires at) of a storage token, read without checking it: only to plan renewals."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims.get("iat_ms", 1000 * claims["iat"])) / 1000, float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0, 0.0  # unreadable: renew at the first call


class StorageToken:
    """The token to send, and its renewal (none without ``renew_url``: a fixed token for tools and tests)."""

    def __init__(self, value: str, renew_url: str = "", hub_token: str = "",
                 clock: Callable[[], float] = time.time):
        self.value = value
        self.renew_url = renew_url
        self.hub_token = hub_token
        self.clock = clock
        self._lock = asyncio.Lock()

    def due(self) -> bool:
        """Whether half the token's life is gone."""
        issued, expires = expiry_of(self.value)
        return self.clock() >= issued + (expires - issued) / 2

    async def current(self, http: aiohttp.ClientSession) -> str:
        if self.renew_url and self.due():
            await self.renew(http, self.value)
        return self.value

    async def renew(self, http: aiohttp.ClientSession, refused: str) -> bool:
        """Ask the hub for a new token in place of ``refused``; whether there is one to try."""
        if not self.renew_url:
            return False
        async with self._lock:
            if self.value != refused:  # renewed meanwhile by another call
                return True
            try:
                async with http.post(self.renew_url, headers={"Authorization": f"token {self.hub_token}"}) as answer:
                    body = await answer.read()
                    if answer.status != 200:
                        log.warning("the hub refused to renew the storage token (HTTP %d): %s", answer.status,
                                    body[:300].decode("utf-8", "replace"))
                        return False
                self.value = str(json.loads(body)["token"])
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError, TypeError) as error:
                log.warning("could not renew the storage token at %s: %s", self.renew_url, error)
                return False
        return True
