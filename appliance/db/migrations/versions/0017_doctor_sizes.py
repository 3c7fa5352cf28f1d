"""doctor: one row a day of the databases' size (`appliance doctor` tells their growth).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS doctor")
    op.create_table(
        "database_sizes",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
        schema="doctor",
    )


def downgrade() -> None:
    op.drop_table("database_sizes", schema="doctor")
    op.execute("DROP SCHEMA IF EXISTS doctor")
