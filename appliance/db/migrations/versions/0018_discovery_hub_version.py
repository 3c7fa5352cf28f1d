"""discovery: the appliance version each hub runs (an upgrade's progress, hub by hub).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.add_column("hubs", sa.Column("version", sa.Text(), nullable=False, server_default=""), schema="discovery")


def downgrade() -> None:
    op.drop_column("hubs", "version", schema="discovery")
