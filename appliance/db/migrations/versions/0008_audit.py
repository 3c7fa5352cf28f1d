"""audit schema: the audit log's events (who, action, target, detail, address, at).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS audit")
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), server_default="", nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("address", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema="audit",
    )
    op.create_index("events_at", "events", ["at", "id"], schema="audit")
    op.create_index("events_actor_at", "events", ["actor", "at"], schema="audit")
    op.create_index("events_action_at", "events", ["action", "at"], schema="audit")


def downgrade() -> None:
    op.drop_table("events", schema="audit")
    op.execute("DROP SCHEMA IF EXISTS audit")
