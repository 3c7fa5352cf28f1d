"""Moderation: what an author does to their own publication (unpublish) and what admins do to any
(list, show, hide, unhide, delete, rerender). `appliance gallery …` and the admin console are thin over
this class; it checks no one's rights: its callers are the author's own request or an admin, named ``by``
(an audit Actor) in each admin change, which the audit log records once it is done.

Unpublishing keeps the rows (its URLs answer 410, clones keep their lineage); hiding is reversible
and keeps the publication from everyone but its author and admins (404 to others); deleting removes
the publication, its versions, renders, views, clones' records and thread for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from appliance.audit import Actor, Record, no_record
from appliance.gallery.errors import Forbidden, Gone, NotFound
from appliance.gallery.publish import queue_render, transaction
from appliance.gallery.visibility import describe

SUMMARY = """p.slug, p.title, p.author, p.visibility, p.visible_group, p.current_version, p.views, p.clones,
             p.created_at, p.updated_at, p.hidden_at, p.hidden_reason, p.unpublished_at, p.source_path"""


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class PublicationSummary:
    slug: str
    title: str
    author: str
    visibility: str  # "lab", "unlisted" or "group:<name>"
    version: int
    views: int
    clones: int
    created_at: datetime
    updated_at: datetime
    hidden_at: datetime | None
    hidden_reason: str | None
    unpublished_at: datetime | None
    path: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> PublicationSummary:
        (slug, title, author, visibility, group, version, views, clones, created, updated, hidden, reason,
         unpublished, path) = row
        return cls(slug, title, author, describe(visibility, group), version, views, clones, created, updated,
                   hidden, reason, unpublished, path)

    @property
    def state(self) -> str:
        """"unpublished", "hidden" or "published"."""
        return "unpublished" if self.unpublished_at else "hidden" if self.hidden_at else "published"

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "author": self.author, "visibility": self.visibility,
                "version": self.version, "views": self.views, "clones": self.clones, "state": self.state,
                "created_at": _when(self.created_at), "updated_at": _when(self.updated_at),
                "hidden_at": _when(self.hidden_at), "hidden_reason": self.hidden_reason,
                "unpublished_at": _when(self.unpublished_at), "path": self.path}


@dataclass(frozen=True)
class VersionSummary:
    number: int
    size: int
    outputs_stripped: bool
    created_at: datetime
    render_state: str | None  # of its newest render job: "queued", "done" or "failed"; None: never queued
    render_error: str | None
    render_attempts: int

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "size": self.size, "outputs_stripped": self.outputs_stripped,
                "created_at": _when(self.created_at), "render_state": self.render_state,
                "render_error": self.render_error, "render_attempts": self.render_attempts}


class Moderation:
    def __init__(self, pool: AsyncConnectionPool[Any], record: Record = no_record):
        self.pool = pool
        self.record = record

    async def listing(self, author: str | None = None, include_unpublished: bool = False) -> list[PublicationSummary]:
        """Every publication (hidden ones too; unpublished ones with ``include_unpublished``), newest first."""
        conditions = ["(%(author)s::text IS NULL OR p.author = %(author)s)"]
        if not include_unpublished:
            conditions.append("p.unpublished_at IS NULL")
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                f"SELECT {SUMMARY} FROM gallery.publications p WHERE {' AND '.join(conditions)} "
                "ORDER BY p.updated_at DESC, p.id DESC", {"author": author})
            return [PublicationSummary.from_row(row) for row in await cursor.fetchall()]

    async def show(self, slug: str) -> tuple[PublicationSummary, list[VersionSummary]]:
        """The publication (whatever its state) and its versions with their renders' state."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(f"SELECT {SUMMARY}, p.id FROM gallery.publications p WHERE p.slug = %s",
                                              (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            cursor = await connection.execute(
                "SELECT v.number, v.size, v.outputs_stripped, v.created_at, j.state, j.error, coalesce(j.attempts, 0) "
                "FROM gallery.versions v LEFT JOIN LATERAL (SELECT state, error, attempts FROM gallery.render_jobs "
                "WHERE version_id = v.id ORDER BY id DESC LIMIT 1) j ON true "
                "WHERE v.publication_id = %s ORDER BY v.number", (row[-1],))
            versions = [VersionSummary(*version) for version in await cursor.fetchall()]
        return PublicationSummary.from_row(row[:-1]), versions

    async def hide(self, slug: str, reason: str = "", *, by: Actor) -> None:
        """Keep it from everyone but its author and admins (reversible with ``unhide``)."""
        await self._set(slug, "hidden_at = now(), hidden_reason = %(reason)s", reason=reason.strip() or None)
        self.record(by, "gallery.hidden", slug, {"reason": reason.strip()})

    async def unhide(self, slug: str, *, by: Actor) -> None:
        await self._set(slug, "hidden_at = NULL, hidden_reason = NULL")
        self.record(by, "gallery.unhidden", slug)

    async def unpublish(self, username: str, slug: str) -> None:
        """The author takes their publication down: gone from the gallery, its URLs answer 410."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT author, unpublished_at IS NOT NULL FROM gallery.publications WHERE slug = %s FOR UPDATE",
                (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            if row[0] != username:
                raise Forbidden(f"the publication {slug!r} is not yours to unpublish.")
            if row[1]:
                raise Gone(f"the publication {slug!r} is already unpublished.")
            await connection.execute("UPDATE gallery.publications SET unpublished_at = now(), updated_at = now() "
                                     "WHERE slug = %s", (slug,))

    async def delete(self, slug: str, *, by: Actor) -> None:
        """Remove the publication and everything that belongs to it, for good."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "DELETE FROM gallery.publications WHERE slug = %s RETURNING author, title", (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
        self.record(by, "gallery.deleted", slug, {"author": row[0], "title": row[1]})

    async def rerender(self, slug: str, version: int | None = None, *, by: Actor) -> tuple[int, int]:
        """Queue the version (default: the current one) to be rendered again; (version, job id). A version
        already waiting in the queue is not queued twice."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT v.id, v.number, (SELECT j.id FROM gallery.render_jobs j WHERE j.version_id = v.id "
                "AND j.state = 'queued' ORDER BY j.id LIMIT 1) FROM gallery.publications p "
                "JOIN gallery.versions v ON v.publication_id = p.id "
                "AND v.number = coalesce(%(version)s::int, p.current_version) WHERE p.slug = %(slug)s",
                {"slug": slug, "version": version})
            row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"there is no publication {slug!r}" + (f" with a version {version}" if version else "")
                               + "; see `appliance gallery list` and `appliance gallery show SLUG`.")
            version_id, number, waiting = row
            job = waiting if waiting is not None else await queue_render(connection, version_id)
        self.record(by, "gallery.rerendered", slug, {"version": number, "job": job})
        return number, job

    async def _set(self, slug: str, assignments: str, **values: Any) -> None:
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(f"UPDATE gallery.publications SET {assignments} WHERE slug = %(slug)s",
                                              {"slug": slug, **values})
            if cursor.rowcount == 0:
                raise self._missing(slug)

    @staticmethod
    def _missing(slug: str) -> NotFound:
        return NotFound(f"there is no publication {slug!r}; see `appliance gallery list`.")
