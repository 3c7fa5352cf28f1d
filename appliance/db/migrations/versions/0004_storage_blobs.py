"""storage: sealed bytes move to immutable blobs shared by a file and its checkpoints, compressed
when that pays; notebook trust is kept with the bytes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
backwards_compatible = False  # drops storage.files.content and checkpoints.content, which the previous release reads


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("encoding", sa.Text(), server_default="identity", nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["storage.namespaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="storage",
    )
    op.create_index("blobs_namespace", "blobs", ["namespace_id"], unique=False, schema="storage")
    # sealed content does not compress: store it out of line without trying
    op.execute("ALTER TABLE storage.blobs ALTER COLUMN content SET STORAGE EXTERNAL")
    for table in ("files", "checkpoints"):
        op.add_column(table, sa.Column("blob_id", sa.BigInteger(), nullable=True), schema="storage")
        op.add_column(table, sa.Column("trusted", sa.Boolean(), server_default=sa.false(), nullable=False),
                      schema="storage")
    # existing bytes: one blob per file and per checkpoint, matched back through a scratch column
    op.add_column("blobs", sa.Column("origin", sa.Text(), nullable=True), schema="storage")
    op.execute("""
        INSERT INTO storage.blobs (namespace_id, content, origin)
        SELECT namespace_id, content, 'f' || id FROM storage.files WHERE content IS NOT NULL
        UNION ALL
        SELECT f.namespace_id, c.content, 'c' || c.id
        FROM storage.checkpoints c JOIN storage.files f ON f.id = c.file_id
    """)
    op.execute("UPDATE storage.files f SET blob_id = b.id FROM storage.blobs b WHERE b.origin = 'f' || f.id")
    op.execute("UPDATE storage.checkpoints c SET blob_id = b.id FROM storage.blobs b WHERE b.origin = 'c' || c.id")
    op.drop_column("blobs", "origin", schema="storage")
    op.alter_column("checkpoints", "blob_id", nullable=False, schema="storage")
    for table in ("files", "checkpoints"):
        op.drop_column(table, "content", schema="storage")
        op.create_foreign_key(f"{table}_blob_id_fkey", table, "blobs", ["blob_id"], ["id"],
                              source_schema="storage", referent_schema="storage")
        op.create_index(f"{table}_blob", table, ["blob_id"], unique=False, schema="storage")


def downgrade() -> None:
    for table in ("files", "checkpoints"):
        op.drop_column(table, "trusted", schema="storage")
        op.add_column(table, sa.Column("content", sa.LargeBinary(), nullable=True), schema="storage")
        op.execute(f"UPDATE storage.{table} t SET content = b.content FROM storage.blobs b WHERE b.id = t.blob_id")
        op.drop_column(table, "blob_id", schema="storage")
    op.alter_column("checkpoints", "content", nullable=False, schema="storage")
    op.drop_table("blobs", schema="storage")
