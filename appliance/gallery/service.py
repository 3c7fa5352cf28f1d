"""The gallery component wired together: its pool, the publisher, moderation and the publish API.

    gallery = Gallery(database_url, config.gallery, members=…, authenticate=…, portal_origin=…)
    await gallery.open()            # inside the event loop that uses it
    gallery.routes()                # the publish API, for the portal's route list
    gallery.publisher               # publish / edit / mine / status (publish.py), for authors
    gallery.moderation              # unpublish (authors); list / show / hide / unhide / delete / rerender (admins,
                                    # each recorded in the audit log)
    gallery.pool                    # the gallery's psycopg pool, for its other parts (catalog, threads, clone)
    await gallery.close()

Who may see what is asked of visibility.py, never re-derived.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.routing import Route

from appliance.audit import Record, no_record
from appliance.db.pool import async_pool
from appliance.gallery.api import Authenticate, GalleryAPI
from appliance.gallery.errors import Unauthorized
from appliance.gallery.moderation import Moderation
from appliance.gallery.publish import MemberLookup, Publisher
from appliance.gallery.settings import GallerySettings

LOCK_TIMEOUT_MS = 5000  # a publish waiting on another change of the same publication gives up (503)


async def _no_members(username: str) -> None:
    return None


async def _no_tokens(request: Any) -> str:
    raise Unauthorized("this gallery serves no API: it cannot check tokens.")


class Gallery:
    """Call ``await open()`` inside the event loop that will use it, and ``await close()`` at the end."""

    def __init__(self, database_url: str, settings: GallerySettings, *, members: MemberLookup | None = None,
                 authenticate: Authenticate | None = None, portal_origin: str = "", pool_size: int = 5,
                 record: Record = no_record):
        """``members``: identity's accounts by username (groups, admin and disabled flags);
        ``authenticate``: the storage API's bearer-token check, which names the calling member.
        Tools that only moderate (the CLI) pass neither. ``record``: the audit log's, for moderation."""
        self.settings = settings
        self.pool: AsyncConnectionPool[Any] = async_pool(database_url, pool_size, f"-c lock_timeout={LOCK_TIMEOUT_MS}")
        self.publisher = Publisher(self.pool, members or _no_members)
        self.moderation = Moderation(self.pool, record)
        self.api = GalleryAPI(self.publisher, authenticate or _no_tokens, settings, portal_origin)

    def routes(self) -> list[Route]:
        return self.api.routes()

    async def open(self, wait_s: float | None = None) -> None:
        """``wait_s``: wait this long for the database (tools: a stopped appliance is said at once)."""
        await self.pool.open(wait=wait_s is not None, timeout=wait_s or 30.0)

    async def close(self) -> None:
        await self.pool.close()
