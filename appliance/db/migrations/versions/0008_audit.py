"""audit schema (placeholder: the audit component fills it in; 0009 needs the chain to stay linear).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
