"""The gallery schema. Only the gallery component reads or writes these tables.

A publication is what a member shares; each publish makes a new version, and a version's notebook is
kept as it was published (clones of version 1 stay version 1). Rendering happens off the request path:
``render_jobs`` is the queue the renderer works (``FOR UPDATE SKIP LOCKED``); what it produces (the full
HTML, the sanitised preview fragment and the thumbnails) belongs to the version.

Publications are addressed by ``slug``, a random name: an unlisted publication is reachable only by whoever
has its link, so its address must not be guessable from another's.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

metadata = MetaData(schema="gallery")

publications = Table(
    "publications",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("slug", Text, nullable=False, unique=True),  # random, in every URL of the publication
    Column("author", Text, nullable=False),  # the member's username
    Column("source_path", Text, nullable=False),  # the notebook's path in the author's files, at the last publish
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    # "lab": every member; "group": members of visible_group; "unlisted": whoever has the link
    Column("visibility", Text, nullable=False),
    Column("visible_group", Text),
    Column("current_version", Integer, nullable=False, server_default="1"),
    Column("views", BigInteger, nullable=False, server_default="0"),
    Column("clones", BigInteger, nullable=False, server_default="0"),
    # lineage: the publication (and version) the published notebook was itself cloned from
    Column("derived_from_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="SET NULL")),
    Column("derived_from_version", Integer),
    Column("unpublished_at", DateTime(timezone=True)),  # by its author: gone, its URLs answer 410
    Column("hidden_at", DateTime(timezone=True)),  # by an admin: moderation, reversible
    Column("hidden_reason", Text),
    Column("featured_at", DateTime(timezone=True)),  # by an admin: pinned at the top of /gallery, newest first
    # full-text search over title and tags (A), summary (B), the current version's markdown (C) and code (D)
    Column("document", TSVECTOR, nullable=False, server_default=func.to_tsvector("english", "")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("visibility IN ('lab', 'group', 'unlisted')", name="publications_visibility"),
    CheckConstraint("(visibility = 'group') = (visible_group IS NOT NULL)", name="publications_group"),
    Index("publications_author", "author"),
    Index("publications_updated", "updated_at"),
    Index("publications_tags", "tags", postgresql_using="gin"),
    Index("publications_document", "document", postgresql_using="gin"),
    # the gallery's listing in each sort order (scanned backwards: newest, most cloned, most viewed first),
    # so that a page stops after its cards instead of sorting every publication (catalog.py)
    Index("publications_listed_newest", "updated_at", "id", postgresql_where="unpublished_at IS NULL"),
    Index("publications_listed_clones", "clones", "updated_at", "id", postgresql_where="unpublished_at IS NULL"),
    Index("publications_listed_views", "views", "updated_at", "id", postgresql_where="unpublished_at IS NULL"),
    Index("publications_featured", "featured_at", postgresql_where="featured_at IS NOT NULL"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("publication_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, …: the permalink /gallery/p/<slug>/v/<number>
    Column("notebook", LargeBinary, nullable=False),  # the .ipynb as published (zlib-compressed JSON)
    Column("size", BigInteger, nullable=False),  # of the .ipynb, uncompressed
    Column("sha256", LargeBinary, nullable=False),
    Column("outputs_stripped", Boolean, nullable=False, server_default=false()),
    Column("search_text", Text, nullable=False, server_default=""),  # its markdown and code, for snippets
    # what the renderer made of it: the full HTML (zlib-compressed), and the preview fragment (sanitised)
    Column("html", LargeBinary),
    Column("preview_html", Text),
    Column("rendered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("publication_id", "number", name="versions_publication_number"),
)

thumbnails = Table(
    "thumbnails",
    metadata,
    Column("version_id", BigInteger, ForeignKey("gallery.versions.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),  # 0: the card's image; then in the order of the preview
    Column("png", LargeBinary, nullable=False),  # a raster, never SVG: it is served from the portal's origin
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
)

render_jobs = Table(
    "render_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("version_id", BigInteger, ForeignKey("gallery.versions.id", ondelete="CASCADE"), nullable=False),
    # "queued" → "done" or "failed"; a job being rendered stays "queued" and row-locked by its renderer,
    # so a renderer that dies mid-render gives it back to the queue with its transaction
    Column("state", Text, nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),  # why it failed, shown to the author
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("render_seconds", Double),  # the last attempt's render, for /metrics (appliance_render_seconds)
    CheckConstraint("state IN ('queued', 'done', 'failed')", name="render_jobs_state"),
    Index("render_jobs_queued", "id", postgresql_where="state = 'queued'"),
    Index("render_jobs_version", "version_id"),
)

views = Table(
    "views",
    metadata,
    Column("publication_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="CASCADE"),
           primary_key=True),
    Column("username", Text, primary_key=True),
    Column("day", Date, primary_key=True),  # one view per member per day
)

clones = Table(
    "clones",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("publication_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("username", Text, nullable=False),
    Column("path", Text, nullable=False),  # where the clone landed in the member's files
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("clones_publication", "publication_id"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("publication_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="CASCADE"), nullable=False),
    Column("author", Text, nullable=False),
    Column("body", Text, nullable=False),  # markdown as written; rendered and sanitised when shown
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("edited_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    Column("deleted_by", Text),
    Index("comments_publication", "publication_id", "created_at"),
)

MAX_FEATURED = 12  # publications pinned at once: all of them fit above the listing, which leaves them out

REPORT_REASONS = {
    "spam": "Spam or advertising",
    "offensive": "Offensive or inappropriate",
    "private-data": "Private or sensitive data (credentials, personal data)",
    "copyright": "Copyright or licence problem",
    "broken": "Broken or misleading",
    "other": "Something else",
}

reports = Table(
    "reports",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("publication_id", BigInteger, ForeignKey("gallery.publications.id", ondelete="CASCADE"), nullable=False),
    Column("reporter", Text, nullable=False),  # the member's username
    Column("reason", Text, nullable=False),  # a key of REPORT_REASONS
    Column("detail", Text, nullable=False, server_default=""),  # what they wrote, shown to admins as text
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # an admin acted: "hidden" (hiding the publication resolves its open reports) or "dismissed"
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", Text),
    Column("resolution", Text),
    CheckConstraint(f"reason IN ({', '.join(repr(key) for key in REPORT_REASONS)})", name="reports_reason"),
    CheckConstraint("resolution IN ('hidden', 'dismissed')", name="reports_resolution"),
    CheckConstraint("(resolved_at IS NULL) = (resolution IS NULL)", name="reports_resolved"),
    # a member has one open report per publication: reporting again replaces its reason and detail
    Index("reports_open_one", "publication_id", "reporter", unique=True, postgresql_where="resolved_at IS NULL"),
    Index("reports_open", "created_at", postgresql_where="resolved_at IS NULL"),
    Index("reports_publication", "publication_id"),
)
