"""discovery schema: the hub registry and the members' assignments to hubs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS discovery")
    op.create_table(
        "hubs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("assigned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("draining", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pending", sa.Integer(), server_default="0", nullable=False),
        sa.Column("spawner", sa.Text(), server_default="", nullable=False),
        sa.Column("isolation", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema="discovery",
    )
    op.create_table(
        "assignments",
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("hub_id", sa.Text(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["hub_id"], ["discovery.hubs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("username"),
        schema="discovery",
    )
    op.create_index("assignments_hub", "assignments", ["hub_id"], unique=False, schema="discovery")


def downgrade() -> None:
    op.execute("DROP SCHEMA discovery CASCADE")
