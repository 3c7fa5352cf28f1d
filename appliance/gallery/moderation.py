"""Moderation: what an author does to their own publication (unpublish), what a member does about
another's (report), and what admins do to any (list, show, hide, unhide, feature, unfeature, delete,
rerender; the reports: list, dismiss). `appliance gallery …` and the admin console are thin over this
class; it checks no one's rights: its callers are the author's own request, a member's page that has
already found the publication visible to them, or an admin, named ``by`` (an audit Actor) in each
change, which the audit log records once it is done.

Unpublishing keeps the rows (its URLs answer 410, clones keep their lineage); hiding is reversible
and keeps the publication from everyone but its author and admins (404 to others), and resolves the
reports open on it; featuring pins it at the top of /gallery for those who may see it; deleting
removes the publication, its versions, renders, views, clones' records, reports and thread for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from appliance.audit import Actor, Record, no_record
from appliance.db.like import contains_pattern
from appliance.gallery.errors import BadRequest, Conflict, Forbidden, Gone, NotFound
from appliance.gallery.tables import MAX_FEATURED, REPORT_REASONS
from appliance.gallery.transactions import queue_render, transaction
from appliance.gallery.visibility import describe

SUMMARY = """p.slug, p.title, p.author, p.visibility, p.visible_group, p.current_version, p.views, p.clones,
             p.created_at, p.updated_at, p.hidden_at, p.hidden_reason, p.unpublished_at, p.source_path,
             p.featured_at, (SELECT count(*) FROM gallery.reports r
                             WHERE r.publication_id = p.id AND r.resolved_at IS NULL) AS open_reports"""
# the listing's states, each a condition over gallery.publications p
STATES = {
    "all": "p.unpublished_at IS NULL",
    "published": "p.unpublished_at IS NULL AND p.hidden_at IS NULL",
    "hidden": "p.unpublished_at IS NULL AND p.hidden_at IS NOT NULL",
    "featured": "p.unpublished_at IS NULL AND p.featured_at IS NOT NULL",
    "reported": "p.unpublished_at IS NULL AND EXISTS (SELECT FROM gallery.reports r WHERE r.publication_id = p.id "
                "AND r.resolved_at IS NULL)",
    "unpublished": "p.unpublished_at IS NOT NULL",
    "any": "true",
}
MAX_LIMIT = 200
MAX_REPORT_DETAIL = 2000  # characters a member may write with a report


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
    featured_at: datetime | None = None
    open_reports: int = 0

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> PublicationSummary:
        (slug, title, author, visibility, group, version, views, clones, created, updated, hidden, reason,
         unpublished, path, featured, reports) = row
        return cls(slug, title, author, describe(visibility, group), version, views, clones, created, updated,
                   hidden, reason, unpublished, path, featured, reports)

    @property
    def state(self) -> str:
        """"unpublished", "hidden" or "published"."""
        return "unpublished" if self.unpublished_at else "hidden" if self.hidden_at else "published"

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "author": self.author, "visibility": self.visibility,
                "version": self.version, "views": self.views, "clones": self.clones, "state": self.state,
                "created_at": _when(self.created_at), "updated_at": _when(self.updated_at),
                "hidden_at": _when(self.hidden_at), "hidden_reason": self.hidden_reason,
                "unpublished_at": _when(self.unpublished_at), "path": self.path,
                "featured": self.featured_at is not None, "featured_at": _when(self.featured_at),
                "open_reports": self.open_reports}


@dataclass(frozen=True)
class Report:
    id: int
    slug: str
    title: str
    author: str  # the publication's
    reporter: str
    reason: str  # a key of tables.REPORT_REASONS
    detail: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None  # "hidden" or "dismissed"
    hidden: bool  # the publication is hidden now

    @property
    def reason_text(self) -> str:
        return REPORT_REASONS.get(self.reason, self.reason)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "title": self.title, "author": self.author,
                "reporter": self.reporter, "reason": self.reason, "reason_text": self.reason_text,
                "detail": self.detail, "created_at": _when(self.created_at), "resolved_at": _when(self.resolved_at),
                "resolved_by": self.resolved_by, "resolution": self.resolution, "hidden": self.hidden}


@dataclass(frozen=True)
class Listing:
    publications: list[PublicationSummary]
    more: bool  # another page after this one
    offset: int
    limit: int


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
        """Every publication of ``author`` (or everyone's; hidden ones too, unpublished ones with
        ``include_unpublished``), newest change first."""
        found = await self.page(state="any" if include_unpublished else "all", author=author, limit=None)
        return found.publications

    async def page(self, *, state: str = "all", query: str = "", author: str | None = None, offset: int = 0,
                   limit: int | None = 50) -> Listing:
        """One page of publications in ``state`` (a key of STATES) whose title, slug or author has
        ``query``, newest change first; ``limit`` None: all of them."""
        if state not in STATES:
            raise BadRequest(f"state {state[:40]!r} is not one of {', '.join(STATES)}.")
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be 1 to {MAX_LIMIT}, not {limit}.")
        text = query.strip()[:200]
        pattern = contains_pattern(text)
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                f"SELECT {SUMMARY} FROM gallery.publications p WHERE {STATES[state]} "
                "AND (%(author)s::text IS NULL OR p.author = %(author)s) "
                "AND (%(text)s = '' OR p.title ILIKE %(pattern)s OR p.slug ILIKE %(pattern)s "
                "     OR p.author ILIKE %(pattern)s) "
                "ORDER BY p.updated_at DESC, p.id DESC LIMIT %(limit)s OFFSET %(offset)s",
                {"author": author, "text": text, "pattern": pattern, "offset": max(0, offset),
                 "limit": None if limit is None else limit + 1})
            rows = await cursor.fetchall()
        shown = rows if limit is None else rows[:limit]
        return Listing([PublicationSummary.from_row(row) for row in shown],
                       more=limit is not None and len(rows) > limit, offset=max(0, offset), limit=limit or len(rows))

    async def show(self, slug: str) -> tuple[PublicationSummary, list[VersionSummary]]:
        """The publication (whatever its state) and its versions with their renders' state."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(f"SELECT {SUMMARY}, p.id AS publication_id FROM gallery.publications p "
                                              "WHERE p.slug = %s",
                                              (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            cursor = await connection.execute(
                "SELECT v.number, v.size, v.outputs_stripped, v.created_at, j.state, j.error, coalesce(j.attempts, 0) "
                "FROM gallery.versions v LEFT JOIN LATERAL (SELECT state, error, attempts FROM gallery.render_jobs "
                "WHERE version_id = v.id ORDER BY id DESC LIMIT 1) j ON true "
                "WHERE v.publication_id = %s ORDER BY v.number", (row.publication_id,))
            versions = [VersionSummary(*version) for version in await cursor.fetchall()]
        return PublicationSummary.from_row(row[:-1]), versions

    async def hide(self, slug: str, reason: str = "", *, by: Actor) -> int:
        """Keep it from everyone but its author and admins (reversible with ``unhide``); the reports open
        on it are resolved as "hidden". Returns how many."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "UPDATE gallery.publications SET hidden_at = now(), hidden_reason = %(reason)s WHERE slug = %(slug)s "
                "RETURNING id", {"slug": slug, "reason": reason.strip()[:500] or None})
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            cursor = await connection.execute(
                "UPDATE gallery.reports SET resolved_at = now(), resolved_by = %s, resolution = 'hidden' "
                "WHERE publication_id = %s AND resolved_at IS NULL", (by.name, row[0]))
            resolved = cursor.rowcount
        self.record(by, "gallery.hidden", slug, {"reason": reason.strip()[:500], "reports_resolved": resolved})
        return resolved

    async def unhide(self, slug: str, *, by: Actor) -> None:
        await self._set(slug, "hidden_at = NULL, hidden_reason = NULL")
        self.record(by, "gallery.unhidden", slug)

    async def feature(self, slug: str, *, by: Actor) -> None:
        """Pin it at the top of /gallery (for those who may see it), newest featured first; at most
        MAX_FEATURED at once."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT unpublished_at IS NOT NULL AS unpublished, featured_at IS NOT NULL AS featured, "
                "(SELECT count(*) FROM gallery.publications WHERE featured_at IS NOT NULL AND unpublished_at IS NULL) "
                "AS featured_count FROM gallery.publications WHERE slug = %s FOR UPDATE", (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            if row.unpublished:
                raise Gone(f"the publication {slug!r} was unpublished by its author: it cannot be featured.")
            if not row.featured and row.featured_count >= MAX_FEATURED:
                raise Conflict(f"{row.featured_count} publications are featured already, the most the gallery pins "
                               "at once: unfeature one first.")
            await connection.execute("UPDATE gallery.publications SET featured_at = coalesce(featured_at, now()) "
                                     "WHERE slug = %s", (slug,))
        self.record(by, "gallery.featured", slug)

    async def unfeature(self, slug: str, *, by: Actor) -> None:
        await self._set(slug, "featured_at = NULL")
        self.record(by, "gallery.unfeatured", slug)

    # ----- reports ------------------------------------------------------------------------------------

    async def report(self, publication_id: int, reason: str, detail: str = "", *, by: Actor) -> int:
        """A member reports a publication their page found visible to them; reporting it again while the
        first is open replaces its reason and detail. Returns the report's id."""
        detail = detail.strip()
        if reason not in REPORT_REASONS:
            raise BadRequest(f"the reason {reason[:40]!r} is not one of {', '.join(REPORT_REASONS)}.")
        if len(detail) > MAX_REPORT_DETAIL:
            raise BadRequest(f"the report has {len(detail)} characters; at most {MAX_REPORT_DETAIL} are allowed.")
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "INSERT INTO gallery.reports (publication_id, reporter, reason, detail) "
                "SELECT id, %(reporter)s, %(reason)s, %(detail)s FROM gallery.publications "
                "WHERE id = %(id)s AND author <> %(reporter)s "
                "ON CONFLICT (publication_id, reporter) WHERE resolved_at IS NULL "
                "DO UPDATE SET reason = excluded.reason, detail = excluded.detail, created_at = now() "
                "RETURNING id, (SELECT slug FROM gallery.publications WHERE id = %(id)s) AS slug",
                {"id": publication_id, "reporter": by.name, "reason": reason, "detail": detail})
            row = await cursor.fetchone()
        if row is None:
            raise Forbidden("you cannot report your own publication: edit or unpublish it from My publications.")
        self.record(by, "gallery.reported", row.slug, {"reason": reason, "report": row.id})
        return int(row.id)

    async def reports(self, *, open_only: bool = True, slug: str | None = None, report_id: int | None = None,
                      limit: int = 200) -> list[Report]:
        """Reports, newest first: the open ones (or all), of every publication (or of ``slug``'s)."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT r.id, p.slug, p.title, p.author, r.reporter, r.reason, r.detail, r.created_at, r.resolved_at, "
                "  r.resolved_by, r.resolution, p.hidden_at IS NOT NULL "
                "FROM gallery.reports r JOIN gallery.publications p ON p.id = r.publication_id "
                "WHERE (NOT %(open)s OR r.resolved_at IS NULL) AND (%(slug)s::text IS NULL OR p.slug = %(slug)s) "
                "  AND (%(id)s::bigint IS NULL OR r.id = %(id)s) "
                "ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s",
                {"open": open_only, "slug": slug, "id": report_id, "limit": min(max(1, limit), 1000)})
            return [Report(*row) for row in await cursor.fetchall()]

    async def open_reports(self) -> int:
        """How many reports wait for an admin (the partial index reports_open counts them)."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute("SELECT count(*) FROM gallery.reports WHERE resolved_at IS NULL")
            return int((await cursor.fetchone() or (0,))[0])

    async def dismiss(self, report_id: int, *, by: Actor) -> Report:
        """Close an open report without acting on the publication."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "UPDATE gallery.reports SET resolved_at = now(), resolved_by = %s, resolution = 'dismissed' "
                "WHERE id = %s AND resolved_at IS NULL RETURNING id", (by.name, report_id))
            if await cursor.fetchone() is None:
                raise NotFound(f"there is no open report {report_id}; see `appliance gallery reports`.")
        (found,) = await self.reports(open_only=False, report_id=report_id)
        self.record(by, "gallery.report-dismissed", found.slug, {"report": report_id, "reporter": found.reporter})
        return found

    # ----- the author ---------------------------------------------------------------------------------

    async def unpublish(self, username: str, slug: str) -> None:
        """The author takes their publication down: gone from the gallery, its URLs answer 410."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT author, unpublished_at IS NOT NULL AS unpublished FROM gallery.publications WHERE slug = %s "
                "FOR UPDATE",
                (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
            if row.author != username:
                raise Forbidden(f"the publication {slug!r} is not yours to unpublish.")
            if row.unpublished:
                raise Gone(f"the publication {slug!r} is already unpublished.")
            await connection.execute("UPDATE gallery.publications SET unpublished_at = now(), updated_at = now() "
                                     "WHERE slug = %s", (slug,))

    async def delete(self, slug: str, *, by: Actor) -> None:
        """Remove the publication and everything that belongs to it, for good. Its render jobs are locked
        first, in the renderer's order (a job, then its version): the cascade alone locks the versions
        first and deadlocked with a render in flight."""
        async with transaction(self.pool) as connection:
            await connection.execute(
                "SELECT j.id FROM gallery.render_jobs j JOIN gallery.versions v ON v.id = j.version_id "
                "JOIN gallery.publications p ON p.id = v.publication_id WHERE p.slug = %s FOR UPDATE OF j", (slug,))
            cursor = await connection.execute(
                "DELETE FROM gallery.publications WHERE slug = %s RETURNING author, title", (slug,))
            row = await cursor.fetchone()
            if row is None:
                raise self._missing(slug)
        self.record(by, "gallery.deleted", slug, {"author": row.author, "title": row.title})

    async def rerender(self, slug: str, version: int | None = None, *, by: Actor) -> tuple[int, int]:
        """Queue the version (default: the current one) to be rendered again; (version, job id). A version
        already waiting in the queue is not queued twice."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(
                "SELECT v.id, v.number, (SELECT j.id FROM gallery.render_jobs j WHERE j.version_id = v.id "
                "AND j.state = 'queued' ORDER BY j.id LIMIT 1) AS waiting_job FROM gallery.publications p "
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
