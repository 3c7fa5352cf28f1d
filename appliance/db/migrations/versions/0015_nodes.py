"""nodes: the machines that run hubs for this appliance, and the tokens that let one join.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS nodes")
    op.create_table(
        "nodes",
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("proxy_port", sa.Integer(), nullable=False),
        sa.Column("first_api_port", sa.Integer(), nullable=False),
        sa.Column("hub_count", sa.Integer(), nullable=False),
        sa.Column("removing", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("name"),
        schema="nodes",
    )
    op.create_table(
        "join_tokens",
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("node_number", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("digest"),
        schema="nodes",
    )


def downgrade() -> None:
    op.drop_table("join_tokens", schema="nodes")
    op.drop_table("nodes", schema="nodes")
    op.execute("DROP SCHEMA IF EXISTS nodes")
