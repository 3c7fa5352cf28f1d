"""core schema: the installation record (when and by which version this database was set up).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS core")
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("installed_version", sa.Text, nullable=False),
        sa.CheckConstraint("id = 1", name="installation_single_row"),
        schema="core",
    )


def downgrade() -> None:
    op.drop_table("installation", schema="core")
    op.execute("DROP SCHEMA IF EXISTS core")
