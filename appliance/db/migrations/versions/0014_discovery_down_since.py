"""discovery: when the supervisor saw a hub's restart fail (the hub is dead from then, whatever its silence).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.add_column("hubs", sa.Column("down_since", sa.DateTime(timezone=True), nullable=True), schema="discovery")


def downgrade() -> None:
    op.drop_column("hubs", "down_since", schema="discovery")
