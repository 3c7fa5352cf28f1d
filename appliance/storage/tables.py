"""The storage schema. Only the storage component reads or writes these tables.

Paths use the "C" collation so that "a/b/" < "a/b/c" < "a/b0": a directory's whole subtree is one
index range scan (used by rename and delete of directories).

Sealed bytes live in ``blobs``, which are immutable (compressed before sealing when that pays). A
file and its checkpoints share a blob until the file changes, so making or restoring a checkpoint
moves no bytes. A blob belongs to one file: only transactions holding that file's row lock add or
drop references to it (copy duplicates blobs).

Notebook trust (jupyter's "this notebook's outputs may run") is kept with the bytes it vouches for,
not in a signature database in the member's home directory: user servers come and go on any hub,
often with a home that does not outlive them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    false,
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

blobs = Table(
    "blobs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("namespace_id", Integer, ForeignKey("storage.namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("content", LargeBinary, nullable=False),  # sealed with the namespace's data key
    Column("encoding", Text, nullable=False, server_default="identity"),  # of the sealed bytes: or "deflate" (zlib)
    Index("blobs_namespace", "namespace_id"),
)

files = Table(
    "files",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("namespace_id", Integer, ForeignKey("storage.namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text(collation="C"), nullable=False),  # "" is the root; no leading or trailing "/"
    Column("parent", Text(collation="C"), nullable=False),
    Column("kind", Text, nullable=False),  # "file" or "directory"
    Column("blob_id", BigInteger, ForeignKey("storage.blobs.id")),  # NULL for directories
    Column("size", BigInteger),  # the member's bytes, before encryption
    Column("sha256", LargeBinary),  # of the member's bytes
    Column("trusted", Boolean, nullable=False, server_default=false()),  # notebook trust, for these bytes
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("modified_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("namespace_id", "path", name="files_namespace_path"),
    Index("files_listing", "namespace_id", "parent"),
    Index("files_blob", "blob_id"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("file_id", BigInteger, ForeignKey("storage.files.id", ondelete="CASCADE"), nullable=False),
    Column("blob_id", BigInteger, ForeignKey("storage.blobs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", LargeBinary, nullable=False),
    Column("trusted", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("checkpoints_file", "file_id", "id"),
    Index("checkpoints_blob", "blob_id"),
)
