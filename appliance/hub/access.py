"""A hub's side of ending access: signing members out when discovery says their access ended, and
renewing the storage tokens of the servers of members still in good standing.

Discovery's heartbeat answer carries the access endings (sign-out, password change, disable) since the
hub's cursor. For each, the hub invalidates the member's hub login cookies in every browser and
deletes their API and OAuth tokens (their JupyterLab's cookie holds one of these, which the server
re-checks every ``SERVER_AUTH_CACHE_S``). The running server keeps its own token, so that it can
still check the member's next sign-in and renew its storage token; on a disable the server is stopped,
which deletes that token too.

A user server renews its short-lived storage token at POST <hub>/api/appliance/storage-token with its
own API token (RemoteContentsManager does so before expiry): nothing else of the member's can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from tornado import web

from appliance.hub import upstream
from appliance.storage.tokens import StorageTokens

STORAGE_TOKEN_PATH = "appliance/storage-token"  # under the hub's API
SERVER_AUTH_CACHE_S = 2  # HubAuth.cache_max_age of user servers: a revoked token is refused within this
_stopping: set[asyncio.Task[None]] = set()  # asyncio holds tasks weakly: these are kept until done


def end_access(hub: Any, ending: dict[str, Any], stop_servers: Callable[[Any], Awaitable[None]],
               log: logging.Logger) -> asyncio.Task[None] | None:
    """Sign the member of ``ending`` out of this hub; on a disable, start stopping their servers
    (returned, so that the heartbeat is not held up by a slow stop)."""
    user = upstream.find_user(hub, str(ending["username"]))
    if user is None:
        return None
    disabled = ending["reason"] == "disabled"
    keep = [] if disabled else upstream.server_tokens(hub.db, user)
    revoked = upstream.sign_out_everywhere(hub.db, user, keep)
    log.info("%s's access ended (%s): signed out of this hub, %d token(s) revoked", user.name, ending["reason"],
             revoked)
    if not disabled or not any(spawner.active for spawner in user.spawners.values()):
        return None
    log.info("stopping %s's server: the account was disabled", user.name)
    task = asyncio.ensure_future(stop_servers(user))
    _stopping.add(task)

    def report(done: asyncio.Task[None]) -> None:
        _stopping.discard(done)
        if not done.cancelled() and done.exception() is not None:
            log.error("could not stop %s's server: %s", user.name, done.exception())

    task.add_done_callback(report)
    return task


class StorageTokenHandler(APIHandler):  # type: ignore[misc]
    """A fresh storage token for the member whose running server's own API token calls."""

    def initialize(self, tokens: StorageTokens) -> None:
        self.tokens = tokens

    async def post(self) -> None:
        user = self.current_user
        if user is None or getattr(user, "kind", "") != "user" or not upstream.is_server_token(
                self.db, user, self.get_token()):
            raise web.HTTPError(403, "Only a running server's own API token renews its storage token; "
                                     "sign in again and restart the server from the hub.")
        self.write({"token": self.tokens.mint(user.name), "lifetime_s": self.tokens.lifetime_s})
