"""identity: admin tokens, one-time sign-up links, and the indexes People searches and pages by.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["identity.accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        schema="identity",
    )
    op.create_index("admin_tokens_account", "admin_tokens", ["account_id"], unique=False, schema="identity")
    op.create_table(
        "invitations",
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["identity.accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest"),
        schema="identity",
    )
    op.create_index("invitations_account", "invitations", ["account_id"], unique=False, schema="identity")
    op.create_index("accounts_name_keyset", "accounts", ["display_name", "id"], schema="identity")
    op.create_index("accounts_created_keyset", "accounts", ["created_at", "id"], schema="identity")
    op.create_index("accounts_last_login_keyset", "accounts", ["last_login_at", "id"], schema="identity")
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in ("username", "display_name", "email"):  # one per column: see identity/tables.py
        op.create_index(f"accounts_search_{column}", "accounts", [column], schema="identity", postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    for index in ("accounts_search_username", "accounts_search_display_name", "accounts_search_email",
                  "accounts_last_login_keyset", "accounts_created_keyset", "accounts_name_keyset"):
        op.drop_index(index, table_name="accounts", schema="identity")
    op.drop_table("invitations", schema="identity")
    op.drop_table("admin_tokens", schema="identity")
