"""Publishing: a member's checked submission (submission.py) becomes a publication or its next version.

One transaction stores the version, updates the publication (title, tags, visibility, the search
document, lineage), queues a render job and sends ``NOTIFY gallery_render`` (delivered at commit, so the
renderer never wakes for a row it cannot see yet). A refusal writes nothing.

The search document weighs title and tags A, summary B, the current version's markdown C and code D
(the 'english' configuration). An edit of title, summary or tags rebuilds A and B and keeps C and D
(``ts_filter``), so the notebook need not be read again.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from appliance.gallery.catalog import render_state
from appliance.gallery.errors import BadRequest, Forbidden, Gone, NotFound, Unauthorized
from appliance.gallery.submission import Submission, check_summary, check_tags, check_title
from appliance.gallery.transactions import Connection, queue_render, transaction
from appliance.gallery.visibility import Account, check_visibility, describe

# title and tags (A) and summary (B), from parameters; markdown (C) and code (D) come from the version
DOCUMENT_AB = ("setweight(to_tsvector('english', %(title)s || ' ' || array_to_string(%(tags)s::text[], ' ')), 'A') "
               "|| setweight(to_tsvector('english', %(summary)s), 'B')")
DOCUMENT_CD = ("setweight(to_tsvector('english', %(markdown)s), 'C') "
               "|| setweight(to_tsvector('english', %(code)s), 'D')")
# lineage: the publication the notebook was cloned from, if it (still) exists
LINEAGE = """(SELECT id FROM gallery.publications WHERE slug = %(from_slug)s),
             (SELECT %(from_version)s::int FROM gallery.publications WHERE slug = %(from_slug)s)"""
NEW_PUBLICATION = f"""
INSERT INTO gallery.publications (slug, author, source_path, title, summary, tags, visibility, visible_group,
                                  derived_from_id, derived_from_version, document)
VALUES (%(slug)s, %(author)s, %(path)s, %(title)s, %(summary)s, %(tags)s, %(visibility)s, %(group)s, {LINEAGE},
        {DOCUMENT_AB} || {DOCUMENT_CD})
RETURNING id, current_version"""
NEXT_VERSION = f"""
UPDATE gallery.publications SET current_version = current_version + 1, source_path = %(path)s,
       title = %(title)s, summary = %(summary)s, tags = %(tags)s, visibility = %(visibility)s,
       visible_group = %(group)s, document = {DOCUMENT_AB} || {DOCUMENT_CD}, updated_at = now(),
       (derived_from_id, derived_from_version) = (SELECT coalesce(new.id, derived_from_id),
                                                         coalesce(new.version, derived_from_version)
                                                  FROM (SELECT {LINEAGE}) AS new (id, version))
WHERE id = %(id)s RETURNING id, current_version"""
NEW_VERSION = """
INSERT INTO gallery.versions (publication_id, number, notebook, size, sha256, outputs_stripped, search_text)
VALUES (%(id)s, %(number)s, %(notebook)s, %(size)s, %(sha256)s, %(stripped)s, %(search_text)s) RETURNING id"""
EDIT = f"""
UPDATE gallery.publications SET title = %(title)s, summary = %(summary)s, tags = %(tags)s,
       visibility = %(visibility)s, visible_group = %(group)s, updated_at = now(),
       document = {DOCUMENT_AB} || ts_filter(document, '{{c,d}}')
WHERE id = %(id)s"""
# the author's view of their publications: the current version's newest render job, and its place in the queue
STATUS = """
SELECT p.slug, p.title, p.current_version, p.visibility, p.visible_group, p.hidden_at IS NOT NULL AS hidden,
       p.source_path, j.state, j.attempts, j.error,
       CASE WHEN j.state = 'queued' THEN (SELECT count(*) FROM gallery.render_jobs q
                                          WHERE q.state = 'queued' AND q.id < j.id) END
FROM gallery.publications p
JOIN gallery.versions v ON v.publication_id = p.id AND v.number = p.current_version
LEFT JOIN LATERAL (SELECT id, state, attempts, error FROM gallery.render_jobs WHERE version_id = v.id
                   ORDER BY id DESC LIMIT 1) j ON true
WHERE p.author = %(author)s AND p.unpublished_at IS NULL"""


class Member(Account, Protocol):
    """What the gallery needs of a member (identity's Account has it)."""

    @property
    def disabled(self) -> bool: ...


MemberLookup = Callable[[str], Awaitable[Member | None]]


@dataclass(frozen=True)
class Published:
    slug: str
    version: int
    version_id: int
    job_id: int


@dataclass(frozen=True)
class Status:
    """An author's publication as the publish dialog and "Open in gallery" show it."""

    slug: str
    title: str
    version: int
    visibility: str  # "lab", "unlisted" or "group:<name>"
    hidden: bool  # by an admin
    path: str  # the notebook it was last published from
    state: str  # of the current version's render: "queued", "rendering", "done" or "failed" (catalog.render_state)
    error: str | None  # why the render failed, for the author
    position: int | None  # renders queued before this one

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "version": self.version, "visibility": self.visibility,
                "hidden": self.hidden, "path": self.path, "state": self.state, "error": self.error,
                "position": self.position}


def new_slug() -> str:
    """16 characters of [a-z2-7] (80 random bits): unguessable, case-proof, safe in any URL."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


class Publisher:
    """Stores publications and their versions for their authors."""

    def __init__(self, pool: AsyncConnectionPool[Any], members: MemberLookup):
        self.pool = pool
        self.members = members

    async def member(self, username: str) -> Member:
        """The member a storage token named, who must still hold an account that is not disabled."""
        member = await self.members(username)
        if member is None:
            raise Forbidden(f"there is no account named {username!r}: only the lab's members publish.")
        if member.disabled:
            raise Unauthorized(f"the account {username!r} is disabled; an administrator can enable it again.")
        return member

    async def publish(self, member: Member, submission: Submission) -> Published:
        """A new publication, or the next version of ``submission.new_version_of`` (the member's own).
        ``member``: as ``member()`` found them."""
        visibility, group = self._visibility(submission.visibility, member)
        values = {"author": member.username, "path": submission.path, "title": submission.title,
                  "summary": submission.summary, "tags": submission.tags, "visibility": visibility, "group": group,
                  "markdown": submission.markdown, "code": submission.code,
                  "from_slug": submission.cloned_from[0] if submission.cloned_from else None,
                  "from_version": submission.cloned_from[1] if submission.cloned_from else None}
        async with transaction(self.pool) as connection:
            if submission.new_version_of is None:
                slug = new_slug()
                cursor = await connection.execute(NEW_PUBLICATION, {**values, "slug": slug})
            else:
                slug = submission.new_version_of
                publication_id = await self._own(connection, member.username, slug)
                cursor = await connection.execute(NEXT_VERSION, {**values, "id": publication_id})
            publication_id, number = await cursor.fetchone() or (0, 0)
            cursor = await connection.execute(NEW_VERSION, {
                "id": publication_id, "number": number, "notebook": submission.compressed, "size": submission.size,
                "sha256": submission.sha256, "stripped": submission.outputs_stripped,
                "search_text": submission.search_text})
            version_id = int((await cursor.fetchone() or (0,))[0])
            job_id = await queue_render(connection, version_id)
        return Published(slug, int(number), version_id, job_id)

    async def edit(self, username: str, slug: str, *, title: str, summary: str, tags: list[str],
                   visibility: str) -> None:
        """The author changes title, summary, tags and visibility ("lab", "unlisted" or "group:<name>");
        BadRequest, Forbidden, NotFound or Gone as publishing would answer."""
        member = await self.member(username)
        kind, group = self._visibility(visibility, member)
        values = {"title": check_title(title), "summary": check_summary(summary), "tags": check_tags(tags),
                  "visibility": kind, "group": group}
        async with transaction(self.pool) as connection:
            publication_id = await self._own(connection, member.username, slug)
            await connection.execute(EDIT, {**values, "id": publication_id})

    async def mine(self, username: str, path: str | None = None) -> list[Status]:
        """The member's publications (not unpublished), newest change first; only those last published
        from ``path`` when given."""
        query, values = STATUS, {"author": username, "path": path}
        if path is not None:
            query += " AND p.source_path = %(path)s"
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(query + " ORDER BY p.updated_at DESC", values)
            return [_status(row) for row in await cursor.fetchall()]

    async def status(self, username: str, slug: str) -> Status:
        """The member's own publication ``slug``; Gone if they unpublished it, NotFound for anyone else's
        (never revealing that it exists)."""
        async with transaction(self.pool) as connection:
            cursor = await connection.execute(STATUS + " AND p.slug = %(slug)s", {"author": username, "slug": slug})
            row = await cursor.fetchone()
            if row is None:
                cursor = await connection.execute("SELECT FROM gallery.publications WHERE slug = %s AND author = %s",
                                                  (slug, username))
                if await cursor.fetchone() is not None:  # theirs, and unpublished
                    raise Gone(f"you unpublished {slug!r}; its pages answer 410 Gone.")
                raise NotFound(f"you have no publication {slug!r}.")
        return _status(row)

    @staticmethod
    def _visibility(choice: str, member: Member) -> tuple[str, str | None]:
        try:
            return check_visibility(choice, member.groups)
        except PermissionError as error:
            raise Forbidden(str(error)) from None
        except ValueError as error:
            raise BadRequest(str(error)) from None

    @staticmethod
    async def _own(connection: Connection, username: str, slug: str) -> int:
        """The id of the member's own publication ``slug``, locked for this transaction."""
        cursor = await connection.execute(
            "SELECT id, author, unpublished_at IS NOT NULL AS unpublished FROM gallery.publications "
            "WHERE slug = %s FOR UPDATE",
            (slug,))
        row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"there is no publication {slug!r}; publish a new one instead.")
        publication_id, author, unpublished = row
        if author != username:
            raise Forbidden(f"the publication {slug!r} is not yours; publish your own, or clone it first.")
        if unpublished:
            raise Gone(f"the publication {slug!r} was unpublished; publish a new one instead.")
        return int(publication_id)


def _status(row: tuple[Any, ...]) -> Status:
    slug, title, version, visibility, group, hidden, path, state, attempts, error, position = row
    return Status(slug, title, version, describe(visibility, group), hidden, path, render_state(state, attempts),
                  error, None if position is None else int(position))
