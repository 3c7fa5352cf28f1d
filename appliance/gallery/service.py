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
from appliance.gallery.api import Authenticate, GalleryAPI
from appliance.gallery.errors import Unauthorized
from appliance.gallery.moderation import Moderation
from appliance.gallery.publish import MemberLookup, Publisher
from appliance.gallery.settings import GallerySettings
from appliance.gallery.transactions import gallery_pool


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
        Tools that only moderate (the CLI) use moderation.Moderation on a gallery_pool instead.
        ``record``: the audit log's, for moderation."""
        self.settings = settings
        self.pool: AsyncConnectionPool[Any] = gallery_pool(database_url, pool_size)
        self.publisher = Publisher(self.pool, members or _no_members)
        self.moderation = Moderation(self.pool, record)
        self.api = GalleryAPI(self.publisher, authenticate or _no_tokens, settings, portal_origin)

    def routes(self) -> list[Route]:
        return self.api.routes()

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()
