"""gallery: how long each render job's render took (appliance_render_seconds on /metrics).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.add_column("render_jobs", sa.Column("render_seconds", sa.Double(), nullable=True), schema="gallery")


def downgrade() -> None:
    op.drop_column("render_jobs", "render_seconds", schema="gallery")
