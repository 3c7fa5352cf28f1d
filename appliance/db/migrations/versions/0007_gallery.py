"""gallery schema: publications, their versions and renders, the render queue, views, clones and threads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)

NOW = sa.text("now()")


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS gallery")
    op.create_table(
        "publications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("visibility", sa.Text(), nullable=False),
        sa.Column("visible_group", sa.Text(), nullable=True),
        sa.Column("current_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("views", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("clones", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("derived_from_id", sa.BigInteger(), nullable=True),
        sa.Column("derived_from_version", sa.Integer(), nullable=True),
        sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("document", postgresql.TSVECTOR(), server_default=sa.text("to_tsvector('english', '')"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("visibility IN ('lab', 'group', 'unlisted')", name="publications_visibility"),
        sa.CheckConstraint("(visibility = 'group') = (visible_group IS NOT NULL)", name="publications_group"),
        sa.ForeignKeyConstraint(["derived_from_id"], ["gallery.publications.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
        schema="gallery",
    )
    op.create_index("publications_author", "publications", ["author"], schema="gallery")
    op.create_index("publications_updated", "publications", ["updated_at"], schema="gallery")
    op.create_index("publications_tags", "publications", ["tags"], postgresql_using="gin", schema="gallery")
    op.create_index("publications_document", "publications", ["document"], postgresql_using="gin",
                    schema="gallery")
    for name, columns in (("newest", ["updated_at", "id"]), ("clones", ["clones", "updated_at", "id"]),
                          ("views", ["views", "updated_at", "id"])):
        op.create_index(f"publications_listed_{name}", "publications", columns, schema="gallery",
                        postgresql_where=sa.text("unpublished_at IS NULL"))
    op.create_table(
        "versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("publication_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("notebook", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(), nullable=False),
        sa.Column("outputs_stripped", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("search_text", sa.Text(), server_default="", nullable=False),
        sa.Column("html", sa.LargeBinary(), nullable=True),
        sa.Column("preview_html", sa.Text(), nullable=True),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["gallery.publications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("publication_id", "number", name="versions_publication_number"),
        schema="gallery",
    )
    op.create_table(
        "thumbnails",
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["gallery.versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "position"),
        schema="gallery",
    )
    op.create_table(
        "render_jobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'done', 'failed')", name="render_jobs_state"),
        sa.ForeignKeyConstraint(["version_id"], ["gallery.versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="gallery",
    )
    op.create_index("render_jobs_queued", "render_jobs", ["id"], postgresql_where=sa.text("state = 'queued'"),
                    schema="gallery")
    op.create_index("render_jobs_version", "render_jobs", ["version_id"], schema="gallery")
    op.create_table(
        "views",
        sa.Column("publication_id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["gallery.publications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("publication_id", "username", "day"),
        schema="gallery",
    )
    op.create_table(
        "clones",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("publication_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["gallery.publications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="gallery",
    )
    op.create_index("clones_publication", "clones", ["publication_id"], schema="gallery")
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("publication_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["publication_id"], ["gallery.publications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="gallery",
    )
    op.create_index("comments_publication", "comments", ["publication_id", "created_at"], schema="gallery")


def downgrade() -> None:
    op.execute("DROP SCHEMA gallery CASCADE")
