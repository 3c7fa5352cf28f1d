"""discovery: when the registry last began listening to heartbeats again (after a PostgreSQL or portal outage).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.create_table(
        "registry",
        sa.Column("id", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("alive_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("listening_since", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id", name="registry_one_row"),
        sa.PrimaryKeyConstraint("id"),
        schema="discovery",
    )
    op.execute("INSERT INTO discovery.registry (id) VALUES (true)")


def downgrade() -> None:
    op.drop_table("registry", schema="discovery")
