"""gallery: featured publications (pinned at the top of /gallery) and the reports members file.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)

REASONS = ("spam", "offensive", "private-data", "copyright", "broken", "other")  # gallery.tables.REPORT_REASONS


def upgrade() -> None:
    op.add_column("publications", sa.Column("featured_at", sa.DateTime(timezone=True), nullable=True),
                  schema="gallery")
    op.create_index("publications_featured", "publications", ["featured_at"], schema="gallery",
                    postgresql_where=sa.text("featured_at IS NOT NULL"))
    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("publication_id", sa.BigInteger(), nullable=False),
        sa.Column("reporter", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint(f"reason IN ({', '.join(repr(reason) for reason in REASONS)})", name="reports_reason"),
        sa.CheckConstraint("resolution IN ('hidden', 'dismissed')", name="reports_resolution"),
        sa.CheckConstraint("(resolved_at IS NULL) = (resolution IS NULL)", name="reports_resolved"),
        sa.ForeignKeyConstraint(["publication_id"], ["gallery.publications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="gallery",
    )
    op.create_index("reports_open_one", "reports", ["publication_id", "reporter"], unique=True, schema="gallery",
                    postgresql_where=sa.text("resolved_at IS NULL"))
    op.create_index("reports_open", "reports", ["created_at"], schema="gallery",
                    postgresql_where=sa.text("resolved_at IS NULL"))
    op.create_index("reports_publication", "reports", ["publication_id"], schema="gallery")


def downgrade() -> None:
    op.drop_table("reports", schema="gallery")
    op.drop_index("publications_featured", table_name="publications", schema="gallery")
    op.drop_column("publications", "featured_at", schema="gallery")
