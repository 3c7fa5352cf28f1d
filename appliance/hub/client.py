"""The portal's calls to a hub's REST API, with the token of the hubs' ``portal`` service.

That token never leaves the portal process: whoever calls these functions has already decided which
member they act for (the member of a verified portal session, or an admin). The hub is the one discovery
placed the member on. A member cannot name anyone else here: the portal passes their username itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from appliance.home import Home
from appliance.hub.addresses import PORTAL_SERVICE_TOKEN_SECRET, Addresses

TIMEOUT_S = 10.0  # a hub answers its API in milliseconds; stopping a server may take a few seconds
START_TIMEOUT_S = 300.0  # a start is answered when the server is up, or after the hub's slow_spawn_timeout (10 s)


@dataclass(frozen=True)
class ServerState:
    """A member's default server as their hub sees it."""

    state: str  # "running", "starting", "stopping", "stopped"
    since: str | None  # when it started (ISO 8601), while it runs or starts
    last_activity: str | None
    url: str | None  # its path on the hub origin while it runs

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "since": self.since, "last_activity": self.last_activity, "url": self.url}


def server_state(model: dict[str, Any] | None) -> ServerState:
    """The state of a JupyterHub user model's default server (None: the hub has never seen the member)."""
    server = (model or {}).get("servers", {}).get("")
    if not server:
        return ServerState("stopped", None, None, None)
    pending = server.get("pending")
    state = "starting" if pending == "spawn" else "stopping" if pending == "stop" else (
        "running" if server.get("ready") else "starting")
    return ServerState(state, server.get("started"), server.get("last_activity"), server.get("url"))


class HubAPI:
    """One hub's REST API, for the portal."""

    def __init__(self, addresses: Addresses, home: Home, hub_id: str, http: httpx.AsyncClient | None = None,
                 base: str | None = None):
        self.base = base or addresses.hub_api_url(hub_id)  # a hub node's hub: at the node's address
        self.headers = {"Authorization": f"token {home.secret(PORTAL_SERVICE_TOKEN_SECRET)}"}
        self.http = http or httpx.AsyncClient(timeout=TIMEOUT_S)

    def _user(self, username: str, tail: str = "") -> str:
        return f"{self.base}users/{quote(username, safe='')}{tail}"

    async def server(self, username: str) -> ServerState:
        response = await self.http.get(self._user(username), headers=self.headers)
        if response.status_code == 404:  # never signed in on this hub: nothing runs
            return server_state(None)
        response.raise_for_status()
        return server_state(response.json())

    async def metrics(self) -> str:
        """JupyterHub's own metrics (Prometheus' text format), which the portal's service may read."""
        response = await self.http.get(f"{self.base.removesuffix('api/')}metrics", headers=self.headers)
        response.raise_for_status()
        return response.text

    async def knows(self, username: str) -> bool:
        """Whether the hub has a user of this name: a member who never signed in to it has none."""
        response = await self.http.get(self._user(username), headers=self.headers)
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    async def memory(self, username: str) -> tuple[int | None, int | None]:
        """(bytes used, limit in bytes) of the member's running server; None where unknown."""
        response = await self.http.get(f"{self.base}appliance/memory/{quote(username, safe='')}",
                                       headers=self.headers)
        if response.status_code == 404:
            return None, None
        response.raise_for_status()
        body = response.json()
        return body.get("bytes"), body.get("limit_bytes")

    async def start(self, username: str, options: dict[str, Any] | None = None) -> bool:
        """Ask the hub to start the member's server with ``options`` (its user_options: the server profile)
        (201 started, 202 starting, 400 already running or starting); False when the hub does not know the
        member yet: they must sign in to it once (the Research page's frame does, through the portal's OAuth),
        which makes their hub user."""
        response = await self.http.post(self._user(username, "/server"), headers=self.headers, json=options or {},
                                        timeout=httpx.Timeout(TIMEOUT_S, read=START_TIMEOUT_S))
        if response.status_code == 404:
            return False
        if response.status_code not in (201, 202, 400):
            response.raise_for_status()
        return True

    async def stop(self, username: str) -> bool:
        """Ask the hub to stop the member's server (202: it is stopping; 204: stopped; 400: not running);
        False when the hub does not know the member (nothing runs)."""
        response = await self.http.delete(self._user(username, "/server"), headers=self.headers)
        if response.status_code not in (202, 204, 400, 404):
            response.raise_for_status()
        return response.status_code != 404

    async def progress(self, username: str) -> AsyncIterator[dict[str, Any]]:
        """JupyterHub's own progress events for the member's starting server, as the hub sends them, until
        it is ready or failed. Yields one ``{"waiting": ...}`` event instead when nothing is starting yet
        (the hub does not know the member yet, or no start has begun)."""
        url = self._user(username, "/server/progress")
        timeout = httpx.Timeout(TIMEOUT_S, read=None)  # the hub sends a keep-alive every 8 s
        async with self.http.stream("GET", url, headers=self.headers, timeout=timeout) as response:
            if response.status_code in (400, 404):
                yield {"waiting": True, "message": "Waiting for your hub to start your server…"}
                return
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    event: dict[str, Any] = json.loads(line[5:])
                    yield event

    async def aclose(self) -> None:
        await self.http.aclose()
