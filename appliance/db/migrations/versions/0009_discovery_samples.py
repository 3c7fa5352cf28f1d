"""discovery: the hubs' samples (the admin console's chart) and two more heartbeat counts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.add_column("hubs", sa.Column("active", sa.Integer(), server_default="0", nullable=False), schema="discovery")
    op.add_column("hubs", sa.Column("memory_bytes", sa.BigInteger(), nullable=True), schema="discovery")
    op.add_column("hubs", sa.Column("restarting_until", sa.DateTime(timezone=True), nullable=True), schema="discovery")
    op.create_table(
        "hub_samples",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hub_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("at", "hub_id"),
        schema="discovery",
    )


def downgrade() -> None:
    op.drop_table("hub_samples", schema="discovery")
    op.drop_column("hubs", "restarting_until", schema="discovery")
    op.drop_column("hubs", "memory_bytes", schema="discovery")
    op.drop_column("hubs", "active", schema="discovery")
