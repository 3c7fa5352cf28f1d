"""The storage schema. Only the storage component reads or writes these tables.

Paths use the "C" collation so that "a/b/" < "a/b/c" < "a/b0": a directory's whole subtree is one
index range scan (used by rename and delete of directories).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData(schema="storage")

namespaces = Table(
    "namespaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("wrapped_key", LargeBinary, nullable=False),  # the data key, encrypted by a master key
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

files = Table(
    "files",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("namespace_id", Integer, ForeignKey("storage.namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text(collation="C"), nullable=False),  # "" is the root; no leading or trailing "/"
    Column("parent", Text(collation="C"), nullable=False),
    Column("kind", Text, nullable=False),  # "file" or "directory"
    Column("content", LargeBinary),  # encrypted; NULL for directories
    Column("size", BigInteger),  # the member's bytes, before encryption
    Column("sha256", LargeBinary),  # of the member's bytes
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("modified_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("namespace_id", "path", name="files_namespace_path"),
    Index("files_listing", "namespace_id", "parent"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("file_id", BigInteger, ForeignKey("storage.files.id", ondelete="CASCADE"), nullable=False),
    Column("content", LargeBinary, nullable=False),  # encrypted
    Column("size", BigInteger, nullable=False),
    Column("sha256", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("checkpoints_file", "file_id", "id"),
)
