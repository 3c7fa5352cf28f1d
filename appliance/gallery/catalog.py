"""The gallery's read side: cards (filtered, sorted, paged), ranked search, a publication with its
versions, a member's own publications, and the bytes a page links to (notebooks, thumbnails).

Every statement that finds a publication for a viewer carries the one visibility predicate
(visibility.py), so a publication the viewer may not see is never found, whatever the URL.
Listings and search leave out unlisted publications (they are reached only by their link).

Search is PostgreSQL's full text: ``publications.document`` (title, tags, summary, the current
version's markdown and code) matched with ``websearch_to_tsquery`` (quotes, ``or``, ``-word``: what
people type), ranked with ``ts_rank``; the snippet is ``ts_headline`` over the current version's
``search_text``, computed for the shown page only (it re-parses the text: the costly part).
"""

from __future__ import annotations

import html
import math
import re
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine, text

from appliance.gallery.errors import Gone, NotFound
from appliance.gallery.tables import MAX_FEATURED
from appliance.gallery.visibility import Access, Audience, Viewer, access, visible_sql


def visible(viewer: Viewer, *, listed: bool = False, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """The visibility predicate (visibility.py) with SQLAlchemy's :name parameters."""
    sql, params = visible_sql(viewer, listed=listed, alias=alias)
    return re.sub(r"%\((\w+)\)s", r":\1", sql), params


def check_access(viewer: Viewer, row: Any) -> None:
    """NotFound or Gone unless ``viewer`` may see the publication ``row`` by its URL. An unpublished one
    is Gone only to those who could see it before: to anyone else it never existed."""
    audience = Audience.from_row(row)
    found = access(viewer, audience)
    if found is Access.GONE and access(viewer, replace(audience, unpublished=False)) is Access.VISIBLE:
        raise Gone(f"“{row.title}” was unpublished by its author, {row.author}. Copies cloned from it are "
                   "not affected.")
    if found is not Access.VISIBLE:
        raise NotFound(NOT_FOUND)


NOT_FOUND = "There is no such publication, or it is not shared with you."
SORTS = {
    "newest": "p.updated_at DESC, p.id DESC",
    "clones": "p.clones DESC, p.updated_at DESC, p.id DESC",
    "views": "p.views DESC, p.updated_at DESC, p.id DESC",
}
PAGE_SIZE = 24
TAGS_TTL_S = 15.0  # the tag filter's counts are this old at most (none found is not kept: a new lab's first)
MAX_QUERY = 200  # characters of a search; longer ones are cut
HEADLINE_CHARS = 50_000  # ts_headline reads this much of a version's text (a 5 MB notebook costs ~1 s whole)
# ts_headline marks matches with these, then everything is escaped and they become <mark>
START, STOP = "\x02", "\x03"
HEADLINE_OPTIONS = f"StartSel={START}, StopSel={STOP}, MaxWords=28, MinWords=12, MaxFragments=2, FragmentDelimiter=\x04"

CARD_COLUMNS = """p.id, p.slug, p.title, p.author, p.summary, p.tags, p.current_version, p.views, p.clones,
    p.created_at, p.updated_at, v.id AS version_id, v.preview_html, p.featured_at IS NOT NULL AS featured,
    EXISTS (SELECT FROM gallery.thumbnails t WHERE t.version_id = v.id AND t.position = 0) AS has_thumbnail"""
# a publication's page: everything but its search document (which grows with the notebook)
PUBLICATION_COLUMNS = ", ".join(f"p.{name}" for name in (
    "id", "slug", "author", "source_path", "title", "summary", "tags", "visibility", "visible_group", "current_version",
    "views", "clones", "derived_from_id", "derived_from_version", "unpublished_at", "hidden_at", "hidden_reason",
    "featured_at", "created_at", "updated_at"))
CURRENT_VERSION = "JOIN gallery.versions v ON v.publication_id = p.id AND v.number = p.current_version"
# the version's latest render job, and where it stands in the queue
RENDER_STATE = """LEFT JOIN LATERAL (
    SELECT j.state, j.error, j.attempts,
           CASE WHEN j.state = 'queued' THEN (SELECT count(*) FROM gallery.render_jobs q
                                              WHERE q.state = 'queued' AND q.id < j.id) END AS ahead
    FROM gallery.render_jobs j WHERE j.version_id = v.id ORDER BY j.id DESC LIMIT 1) job ON true"""


@dataclass(frozen=True)
class Card:
    slug: str
    title: str
    author: str
    summary: str
    tags: list[str]
    version: int
    views: int
    clones: int
    created_at: datetime
    updated_at: datetime
    version_id: int
    preview_html: Markup | None  # sanitised by the renderer (preview.py) before it was stored
    has_thumbnail: bool
    featured: bool = False  # pinned by an admin
    snippet: Markup | None = None  # the search's highlighted words, everything else escaped

    @property
    def thumbnail(self) -> str | None:
        return f"/gallery/thumbnails/{self.version_id}/0.png" if self.has_thumbnail else None


@dataclass(frozen=True)
class CardPage:
    cards: list[Card]
    total: int | None  # counted for a search (it ranks every match anyway), not for a listing or a tag
    page: int
    more: bool  # a page after this one
    query: str
    tag: str
    sort: str
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class Version:
    id: int
    number: int
    created_at: datetime
    size: int
    outputs_stripped: bool
    rendered: bool
    render_state: str  # queued, rendering, done, failed (or "none": no job recorded)
    render_error: str | None
    queue_ahead: int | None  # jobs before it in the render queue, while it waits


@dataclass(frozen=True)
class Lineage:
    slug: str | None  # None when the source is gone or not visible to the viewer
    title: str | None
    version: int | None


@dataclass(frozen=True)
class Publication:
    id: int
    slug: str
    title: str
    summary: str
    tags: list[str]
    author: str
    source_path: str
    visibility: str
    visible_group: str | None
    current_version: int
    views: int
    clones: int
    created_at: datetime
    updated_at: datetime
    derived_from: Lineage | None
    hidden: bool  # by an admin (only its author and admins get this far)
    hidden_reason: str | None  # what the admin wrote, for its author
    featured: bool
    versions: list[Version]  # newest first

    def version(self, number: int) -> Version | None:
        return next((v for v in self.versions if v.number == number), None)


@dataclass(frozen=True)
class MyPublication:
    slug: str
    title: str
    summary: str
    tags: list[str]
    visibility: str
    visible_group: str | None
    current_version: int
    views: int
    clones: int
    updated_at: datetime
    source_path: str
    hidden: bool
    hidden_reason: str | None
    render_state: str
    render_error: str | None


def render_state(state: str | None, attempts: int | None) -> str:
    """A job being rendered stays 'queued' with attempts > 0 (renderer.py)."""
    if state is None:
        return "none"
    return "rendering" if state == "queued" and attempts else state


def snippet_markup(headline: str | None) -> Markup | None:
    """ts_headline's text escaped, its match marks turned into <mark>: nothing else is markup."""
    if not headline or START not in headline:
        return None
    fragments = [html.escape(fragment.strip()) for fragment in headline.split("\x04")]
    joined = " … ".join(fragment for fragment in fragments if fragment)
    return Markup(joined.replace(START, "<mark>").replace(STOP, "</mark>"))


def _card(row: Any, snippet: str | None = None) -> Card:
    return Card(slug=row.slug, title=row.title, author=row.author, summary=row.summary, tags=list(row.tags),
                version=row.current_version, views=row.views, clones=row.clones, created_at=row.created_at,
                updated_at=row.updated_at, version_id=row.version_id,
                preview_html=Markup(row.preview_html) if row.preview_html else None,
                has_thumbnail=row.has_thumbnail, featured=row.featured, snippet=snippet_markup(snippet))


class Catalog:
    def __init__(self, engine: Engine, page_size: int = PAGE_SIZE):
        self.engine = engine
        self.page_size = page_size
        self._tags: dict[Viewer, tuple[float, list[tuple[str, int]]]] = {}

    # ----- the gallery page ----------------------------------------------------------------------------

    def cards(self, viewer: Viewer, query: str = "", tag: str = "", sort: str = "newest", page: int = 1) -> CardPage:
        """One page of listed cards; with ``query``, ranked by relevance (``sort`` then breaks no ties).
        The whole listing (no query, no tag) leaves out the featured ones: they are pinned above it."""
        query, sort = " ".join(query.split())[:MAX_QUERY], sort if sort in SORTS else "newest"
        listed, params = visible(viewer, listed=True)
        params.update(tag=tag, query=query, limit=self.page_size + 1)  # one more: is there a next page?
        where = [listed]
        if not tag and not query:
            where.append("p.featured_at IS NULL")
        if tag:
            where.append("p.tags @> ARRAY[CAST(:tag AS text)]")
        if query:
            where.append("p.document @@ websearch_to_tsquery('english', :query)")
        condition, counted = " AND ".join(where), bool(query)
        statement = text(self._page_statement(condition, sort, bool(query), counted))
        with self.engine.connect() as connection:
            params["offset"] = (max(1, page) - 1) * self.page_size
            rows = connection.execute(statement, params).all()
            if not rows and page > 1:  # past the last page: show the last one
                total = connection.execute(text(f"SELECT count(*) FROM gallery.publications p WHERE {condition}"),
                                           params).scalar_one()
                params["offset"] = max(0, math.ceil(total / self.page_size) - 1) * self.page_size
                rows = connection.execute(statement, params).all()
        cards = [_card(row, row.headline if query else None) for row in rows[:self.page_size]]
        return CardPage(cards=cards, total=(rows[0].total if rows else 0) if counted else None,
                        page=params["offset"] // self.page_size + 1, more=len(rows) > self.page_size,
                        query=query, tag=tag, sort=sort, page_size=self.page_size)

    @staticmethod
    def _page_statement(condition: str, sort: str, search: bool, counted: bool) -> str:
        """One page of cards: its ids chosen over the publications alone (narrow rows), then only they
        joined to their current version. A listing, with or without a tag, walks an index in the sort's
        order and stops after the page (publications_listed_*; counting would read every row). A search
        ranks every match anyway, so it counts them too (count(*) OVER () counts before LIMIT), and makes
        headlines for the page only (ts_headline re-parses the text: the costly part)."""
        order = f"rank DESC, {SORTS['newest']}" if search else SORTS[sort]
        rank = "ts_rank(p.document, websearch_to_tsquery('english', :query))" if search else "0"
        total = "count(*) OVER ()" if counted else "NULL::bigint"
        headline = (f", ts_headline('english', translate(left(v.search_text, {HEADLINE_CHARS}), "
                    f"E'\\x02\\x03\\x04', '   '), websearch_to_tsquery('english', :query), "
                    f"'{HEADLINE_OPTIONS}') AS headline" if search else "")
        return f"""
            WITH chosen AS (SELECT p.id, {rank} AS rank, {total} AS total FROM gallery.publications p
                            WHERE {condition} ORDER BY {order} LIMIT :limit OFFSET :offset)
            SELECT {CARD_COLUMNS}, chosen.total{headline}
            FROM chosen JOIN gallery.publications p ON p.id = chosen.id {CURRENT_VERSION}
            ORDER BY {order.replace('rank', 'chosen.rank')}"""

    def featured(self, viewer: Viewer) -> list[Card]:
        """The featured publications the viewer may see in a listing, newest featured first."""
        listed, params = visible(viewer, listed=True)
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                f"SELECT {CARD_COLUMNS} FROM gallery.publications p {CURRENT_VERSION} "
                f"WHERE p.featured_at IS NOT NULL AND {listed} ORDER BY p.featured_at DESC, p.id DESC LIMIT :limit"),
                {**params, "limit": MAX_FEATURED}).all()
        return [_card(row) for row in rows]

    def tags(self, viewer: Viewer, limit: int = 24) -> list[tuple[str, int]]:
        """The most used tags among the lab's listed publications that the viewer's groups may see (their
        own hidden ones aside). Counting reads every publication, so the counts are shared by viewers of
        the same groups and kept for TAGS_TTL_S."""
        audience = Viewer("", viewer.groups, viewer.is_admin)  # the groups' view: "" is nobody's name
        now = time.monotonic()
        cached = self._tags.get(audience)
        if cached is not None and now - cached[0] < TAGS_TTL_S:
            return cached[1]
        listed, params = visible(audience, listed=True)
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                f"SELECT tag, count(*) AS n FROM gallery.publications p, unnest(p.tags) AS tag WHERE {listed} "
                "GROUP BY tag ORDER BY n DESC, tag LIMIT :limit"), {**params, "limit": limit}).all()
        found = [(row.tag, row.n) for row in rows]
        if len(self._tags) > 1000:
            self._tags.clear()
        if found:
            self._tags[audience] = (now, found)
        return found

    # ----- one publication -----------------------------------------------------------------------------

    def publication(self, viewer: Viewer, slug: str) -> Publication:
        """The publication with its versions; NotFound when it does not exist, is hidden or the viewer may
        not see it (never saying which), Gone when its author unpublished it."""
        with self.engine.connect() as connection:
            row = connection.execute(text(
                f"SELECT {PUBLICATION_COLUMNS}, src.slug AS src_slug, src.title AS src_title, "
                "  src.author AS src_author, src.visibility AS src_visibility, src.visible_group AS src_group, "
                "  src.hidden_at AS src_hidden, src.unpublished_at AS src_unpublished "
                "FROM gallery.publications p LEFT JOIN gallery.publications src ON src.id = p.derived_from_id "
                "WHERE p.slug = :slug"), {"slug": slug}).one_or_none()
            if row is None:
                raise NotFound(NOT_FOUND)
            check_access(viewer, row)
            versions = connection.execute(text(
                "SELECT v.id, v.number, v.created_at, v.size, v.outputs_stripped, v.html IS NOT NULL AS rendered, "
                f"  job.state, job.attempts, job.error, job.ahead FROM gallery.versions v {RENDER_STATE} "
                "WHERE v.publication_id = :id ORDER BY v.number DESC"), {"id": row.id}).all()
        lineage = None
        if row.derived_from_id is not None or row.derived_from_version is not None:
            seen = row.src_slug is not None and access(viewer, Audience(
                row.src_author, row.src_visibility, row.src_group, row.src_hidden is not None,
                row.src_unpublished is not None)) is Access.VISIBLE
            lineage = Lineage(slug=row.src_slug if seen else None, title=row.src_title if seen else None,
                              version=row.derived_from_version)
        return Publication(
            id=row.id, slug=row.slug, title=row.title, summary=row.summary, tags=list(row.tags), author=row.author,
            source_path=row.source_path, visibility=row.visibility, visible_group=row.visible_group,
            current_version=row.current_version, views=row.views, clones=row.clones, created_at=row.created_at,
            updated_at=row.updated_at, derived_from=lineage, hidden=row.hidden_at is not None,
            hidden_reason=row.hidden_reason, featured=row.featured_at is not None,
            versions=[Version(id=v.id, number=v.number, created_at=v.created_at, size=v.size,
                              outputs_stripped=v.outputs_stripped, rendered=v.rendered,
                              render_state=render_state(v.state, v.attempts), render_error=v.error,
                              queue_ahead=v.ahead)
                      for v in versions])

    def notebook(self, version_id: int) -> bytes:
        """A version's .ipynb as published (the caller found the version through publication())."""
        with self.engine.connect() as connection:
            stored = connection.execute(text("SELECT notebook FROM gallery.versions WHERE id = :id"),
                                        {"id": version_id}).scalar_one()
        return zlib.decompress(stored)

    def thumbnail(self, viewer: Viewer, version_id: int, position: int) -> bytes:
        """A thumbnail's PNG, if its publication is one the viewer may see (published, not hidden)."""
        with self.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT t.png, p.slug, p.title, p.author, p.visibility, p.visible_group, p.hidden_at, p.unpublished_at "
                "FROM gallery.thumbnails t JOIN gallery.versions v ON v.id = t.version_id "
                "JOIN gallery.publications p ON p.id = v.publication_id "
                "WHERE t.version_id = :version AND t.position = :position"),
                {"version": version_id, "position": position}).one_or_none()
        png = row.png if row is not None and access(viewer, Audience.from_row(row)) is Access.VISIBLE else None
        if png is None:
            raise NotFound(NOT_FOUND)
        return bytes(png)

    def count_view(self, publication_id: int, username: str) -> None:
        """One view per member per day; the author's own visits are not counted."""
        with self.engine.begin() as connection:
            connection.execute(text(
                "WITH seen AS (INSERT INTO gallery.views (publication_id, username, day) "
                "  SELECT id, :username, current_date FROM gallery.publications WHERE id = :id AND author <> :username "
                "  ON CONFLICT DO NOTHING RETURNING publication_id) "
                "UPDATE gallery.publications SET views = views + 1 WHERE id IN (SELECT publication_id FROM seen)"),
                {"id": publication_id, "username": username})

    # ----- my publications -----------------------------------------------------------------------------

    def mine(self, username: str) -> list[MyPublication]:
        """The member's publications still published (hidden ones too: they say why), newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT p.slug, p.title, p.summary, p.tags, p.visibility, p.visible_group, p.current_version, "
                "  p.views, p.clones, p.updated_at, p.source_path, p.hidden_at, p.hidden_reason, "
                "  job.state, job.attempts, job.error "
                f"FROM gallery.publications p {CURRENT_VERSION} {RENDER_STATE} "
                "WHERE p.author = :username AND p.unpublished_at IS NULL ORDER BY p.updated_at DESC, p.id DESC"),
                {"username": username}).all()
        return [MyPublication(slug=r.slug, title=r.title, summary=r.summary, tags=list(r.tags),
                              visibility=r.visibility, visible_group=r.visible_group,
                              current_version=r.current_version, views=r.views, clones=r.clones,
                              updated_at=r.updated_at, source_path=r.source_path, hidden=r.hidden_at is not None,
                              hidden_reason=r.hidden_reason, render_state=render_state(r.state, r.attempts),
                              render_error=r.error)
                for r in rows]
