"""The file store: every member's namespace of directories and files, and their checkpoints.

Asynchronous all the way down (SQLAlchemy's asyncio engine on psycopg), so that a slow or locked
call never blocks the portal's event loop. Every statement is scoped to one namespace, so a caller
holding one member's name can reach nothing else. Content is sealed with the member's data key and
bound to their namespace; a checkpoint copies the sealed bytes without opening them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import LockNotAvailable
from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from appliance.storage.crypto import MasterKeyFile, Sealer, SealError, new_data_key
from appliance.storage.errors import AlreadyExists, BadPath, Busy, NotFound, TooLarge, WrongKind
from appliance.storage.paths import human_size, is_within, name_of, normalize, parent_of
from appliance.storage.settings import StorageSettings
from appliance.storage.tables import checkpoints, files, namespaces

ENTRY_COLUMNS = [files.c.id, files.c.path, files.c.kind, files.c.size, files.c.sha256, files.c.created_at,
                 files.c.modified_at]


@dataclass(frozen=True)
class Entry:
    id: int | None  # None for the root, which is not stored
    path: str
    kind: str  # "file" or "directory"
    size: int | None
    sha256: bytes | None
    created_at: datetime | None
    modified_at: datetime | None

    @property
    def name(self) -> str:
        return name_of(self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "name": self.name, "type": self.kind, "size": self.size,
            "hash": self.sha256.hex() if self.sha256 else None,
            "created": self.created_at.isoformat() if self.created_at else None,
            "last_modified": self.modified_at.isoformat() if self.modified_at else None,
        }


ROOT = Entry(None, "", "directory", None, None, None, None)


def _entry(row: Any) -> Entry:
    return Entry(row.id, row.path, row.kind, row.size, row.sha256, row.created_at, row.modified_at)


def _subtree(path: str) -> Any:
    """The entry at ``path`` and everything below it: one range on the (namespace, path) index."""
    return or_(files.c.path == path, and_(files.c.path >= path + "/", files.c.path < path + "0"))


@dataclass(frozen=True)
class Namespace:
    id: int
    username: str
    sealer: Sealer

    @property
    def context(self) -> bytes:
        return f"namespace:{self.id}".encode()  # sealed bytes are bound to their namespace


class FileStore:
    def __init__(self, engine: AsyncEngine, master_keys: MasterKeyFile, settings: StorageSettings):
        self.engine = engine
        self.master_keys = master_keys
        self.settings = settings
        self._namespaces: dict[str, tuple[bytes, Namespace]] = {}  # username -> (wrapped key, namespace)

    # ----- namespaces --------------------------------------------------------------------------------

    async def namespace(self, username: str) -> Namespace:
        """The member's namespace, created (with a fresh data key) on first use. Cached: writes check
        the cached key is still the member's (see _current), reads retry once if it was replaced."""
        cached = self._namespaces.get(username)
        if cached is not None:
            return cached[1]
        return await self._load_namespace(username)

    async def _load_namespace(self, username: str) -> Namespace:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(namespaces.c.id, namespaces.c.wrapped_key)
                                            .where(namespaces.c.username == username))).first()
        if row is None:
            async with self.engine.begin() as connection:
                await connection.execute(pg_insert(namespaces).values(
                    username=username, wrapped_key=self.master_keys.current().wrap(new_data_key()),
                ).on_conflict_do_nothing(index_elements=["username"]))
                row = (await connection.execute(select(namespaces.c.id, namespaces.c.wrapped_key)
                                                .where(namespaces.c.username == username))).one()
        namespace = Namespace(row.id, username, Sealer(self.master_keys.current().unwrap(row.wrapped_key)))
        if len(self._namespaces) > 10_000:
            self._namespaces.clear()
        self._namespaces[username] = (bytes(row.wrapped_key), namespace)
        return namespace

    async def _current(self, connection: AsyncConnection, namespace: Namespace) -> Namespace:
        """Inside a writing transaction: lock the member's key against re-encryption, and make sure
        the cached one is still theirs (``appliance storage reencrypt`` may have replaced it)."""
        wrapped = (await connection.execute(select(namespaces.c.wrapped_key).where(
            namespaces.c.id == namespace.id).with_for_update(read=True))).scalar_one()
        if self._namespaces.get(namespace.username, (b"",))[0] == bytes(wrapped):
            return namespace
        fresh = Namespace(namespace.id, namespace.username, Sealer(self.master_keys.current().unwrap(wrapped)))
        self._namespaces[namespace.username] = (bytes(wrapped), fresh)
        return fresh

    def _forget(self, username: str) -> None:
        self._namespaces.pop(username, None)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.begin() as connection:
                yield connection
        except DBAPIError as exc:
            if isinstance(exc.orig, LockNotAvailable):
                raise Busy("the file is busy with another change; try again in a moment.") from None
            raise

    # ----- reading ------------------------------------------------------------------------------------

    async def stat(self, username: str, raw_path: str) -> Entry:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self.engine.connect() as connection:
            return await self._require(connection, namespace, path)

    async def listing(self, username: str, raw_path: str) -> tuple[Entry, list[Entry]]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self.engine.connect() as connection:
            directory = await self._require(connection, namespace, path)
            if directory.kind != "directory":
                raise WrongKind(f"{path} is not a directory.")
            return directory, await self._children(connection, namespace, path)

    async def _children(self, connection: AsyncConnection, namespace: Namespace, path: str) -> list[Entry]:
        rows = await connection.execute(select(*ENTRY_COLUMNS).where(
            files.c.namespace_id == namespace.id, files.c.parent == path, files.c.path != "")
            .order_by(files.c.path))
        return [_entry(row) for row in rows]

    async def read(self, username: str, raw_path: str) -> tuple[Entry, bytes]:
        entry, data, _ = await self.get(username, raw_path)
        if data is None:
            raise WrongKind(f"{entry.path} is a directory, not a file.")
        return entry, data

    async def get(self, username: str, raw_path: str) -> tuple[Entry, bytes | None, list[Entry] | None]:
        """A file with its bytes, or a directory with its entries: one query for a file."""
        try:
            return await self._get(username, raw_path)
        except SealError:
            self._forget(username)  # the data key was replaced since it was cached
            return await self._get(username, raw_path)

    async def _get(self, username: str, raw_path: str) -> tuple[Entry, bytes | None, list[Entry] | None]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self.engine.connect() as connection:
            if path == "":
                return ROOT, None, await self._children(connection, namespace, "")
            row = (await connection.execute(select(*ENTRY_COLUMNS, files.c.content).where(
                files.c.namespace_id == namespace.id, files.c.path == path))).first()
            if row is None:
                raise NotFound(f"No such file or directory: {path}")
            if row.kind == "directory":  # the entry is in hand: only its children are left to read
                return _entry(row), None, await self._children(connection, namespace, path)
        return _entry(row), namespace.sealer.open(row.content, namespace.context), None

    # ----- writing ------------------------------------------------------------------------------------

    async def write(self, username: str, raw_path: str, data: bytes, first_checkpoint: bool = False) -> Entry:
        """Create or replace a file. Its directory must exist; a directory cannot be overwritten.

        With ``first_checkpoint``, a file that has no checkpoint yet gets one of what was written
        (what jupyter_server does after a notebook's first save), in the same transaction."""
        path = normalize(raw_path)
        if not path:
            raise WrongKind("the root is a directory, not a file.")
        self.check_size(path, len(data))
        digest = hashlib.sha256(data).digest()
        async with self._transaction() as connection:
            namespace = await self._current(connection, await self.namespace(username))
            values = {"content": namespace.sealer.seal(data, namespace.context), "size": len(data), "sha256": digest,
                      "modified_at": func.now()}
            await self._require_directory(connection, namespace, parent_of(path), lock=True)
            statement = pg_insert(files).values(namespace_id=namespace.id, path=path, parent=parent_of(path),
                                                kind="file", **values)
            row = (await connection.execute(statement.on_conflict_do_update(
                constraint="files_namespace_path", set_=values, where=files.c.kind == "file",
            ).returning(*ENTRY_COLUMNS))).first()
            if row is None:
                raise WrongKind(f"{path} is a directory; a file cannot replace it.")
            if first_checkpoint:
                await connection.execute(insert(checkpoints).from_select(
                    ["file_id", "content", "size", "sha256"],
                    select(files.c.id, files.c.content, files.c.size, files.c.sha256).where(
                        files.c.id == row.id,
                        ~select(checkpoints.c.id).where(checkpoints.c.file_id == row.id).exists()),
                ))
        return _entry(row)

    async def mkdir(self, username: str, raw_path: str) -> Entry:
        """Create a directory (an existing one is fine). Its parent must exist."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        if not path:
            return ROOT
        async with self._transaction() as connection:
            await self._require_directory(connection, namespace, parent_of(path), lock=True)
            await connection.execute(pg_insert(files).values(
                namespace_id=namespace.id, path=path, parent=parent_of(path), kind="directory",
            ).on_conflict_do_nothing(constraint="files_namespace_path"))
            entry = await self._require(connection, namespace, path)
        if entry.kind != "directory":
            raise WrongKind(f"{path} is a file, not a directory.")
        return entry

    async def delete(self, username: str, raw_path: str) -> None:
        """Delete a file, or a directory with everything in it, in one transaction."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        if not path:
            raise BadPath("the root directory cannot be deleted.")
        async with self._transaction() as connection:
            await self._require(connection, namespace, path)
            await connection.execute(delete(files).where(files.c.namespace_id == namespace.id, _subtree(path)))

    async def rename(self, username: str, raw_old: str, raw_new: str) -> Entry:
        """Move a file or a whole directory in one statement; the target must not exist."""
        namespace, old, new = await self.namespace(username), normalize(raw_old), normalize(raw_new)
        if not old or not new:
            raise BadPath("the root directory cannot be renamed, nor anything renamed onto it.")
        if old == new:
            return await self.stat(username, old)
        async with self._transaction() as connection:
            await self._require(connection, namespace, old)
            if await self._find(connection, namespace, new) is not None:
                raise AlreadyExists(f"File already exists: {new}")
            if is_within(new, old):
                raise BadPath(f"cannot move {old} into itself ({new}).")
            await self._require_directory(connection, namespace, parent_of(new), lock=True)
            path, parent = _moved_columns(old, new)
            await connection.execute(update(files).where(files.c.namespace_id == namespace.id, _subtree(old))
                                     .values(path=path, parent=parent))
            return await self._require(connection, namespace, new)

    async def copy(self, username: str, raw_source: str, raw_target: str) -> Entry:
        """Copy a file or a directory tree (server-side; the bytes stay sealed)."""
        namespace, source, target = (await self.namespace(username), normalize(raw_source),
                                     normalize(raw_target))
        if not source or not target:
            raise BadPath("the root directory cannot be copied, nor anything copied onto it.")
        if is_within(target, source):
            raise BadPath(f"cannot copy {source} into itself ({target}).")
        async with self._transaction() as connection:
            await self._require(connection, namespace, source)
            await self._require_directory(connection, namespace, parent_of(target), lock=True)
            if await self._find(connection, namespace, target) is not None:
                raise AlreadyExists(f"File already exists: {target}")
            path, parent = _moved_columns(source, target)
            copied = select(literal(namespace.id), path, parent, files.c.kind, files.c.content, files.c.size,
                            files.c.sha256).where(files.c.namespace_id == namespace.id, _subtree(source))
            await connection.execute(insert(files).from_select(
                ["namespace_id", "path", "parent", "kind", "content", "size", "sha256"], copied))
            return await self._require(connection, namespace, target)

    def check_size(self, path: str, size: int) -> None:
        if size > self.settings.max_file_size_bytes:
            raise self.too_large(path, size)

    def too_large(self, path: str, size: int | None = None) -> TooLarge:
        """413 naming the file and the limit; ``size`` is None when a stream went past the limit."""
        what = f"{name_of(path)} ({human_size(size)})" if size is not None else name_of(path)
        return TooLarge(f"{what} is larger than {human_size(self.settings.max_file_size_bytes)}, the largest file "
                        "this lab stores (storage.max_file_size_bytes). Nothing was saved.")

    # ----- checkpoints ---------------------------------------------------------------------------------

    async def create_checkpoint(self, username: str, raw_path: str) -> dict[str, Any]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._require_file(connection, namespace, path)
            row = (await connection.execute(insert(checkpoints).from_select(
                ["file_id", "content", "size", "sha256"],
                select(files.c.id, files.c.content, files.c.size, files.c.sha256).where(files.c.id == entry.id),
            ).returning(checkpoints.c.id, checkpoints.c.created_at))).one()
            if self.settings.checkpoints_kept:
                newest = select(checkpoints.c.id).where(checkpoints.c.file_id == entry.id).order_by(
                    checkpoints.c.id.desc()).limit(self.settings.checkpoints_kept)
                await connection.execute(delete(checkpoints).where(
                    checkpoints.c.file_id == entry.id, checkpoints.c.id.not_in(newest.scalar_subquery())))
        return {"id": str(row.id), "last_modified": row.created_at.isoformat()}

    async def list_checkpoints(self, username: str, raw_path: str) -> list[dict[str, Any]]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self.engine.connect() as connection:
            entry = await self._require_file(connection, namespace, path)
            rows = await connection.execute(select(checkpoints.c.id, checkpoints.c.created_at).where(
                checkpoints.c.file_id == entry.id).order_by(checkpoints.c.id.desc()))
            return [{"id": str(row.id), "last_modified": row.created_at.isoformat()} for row in rows]

    async def restore_checkpoint(self, username: str, raw_path: str, checkpoint_id: str) -> Entry:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._require_file(connection, namespace, path, lock=True)
            wanted = (select(func.max(checkpoints.c.id)).where(checkpoints.c.file_id == entry.id).scalar_subquery()
                      if checkpoint_id == "latest" else _checkpoint_id(checkpoint_id))
            restored = await connection.execute(  # the sealed bytes move inside the database
                update(files).where(files.c.id == entry.id, checkpoints.c.file_id == entry.id,
                                    checkpoints.c.id == wanted)
                .values(content=checkpoints.c.content, size=checkpoints.c.size, sha256=checkpoints.c.sha256,
                        modified_at=func.now()))
            if restored.rowcount == 0:
                raise NotFound(f"checkpoint {checkpoint_id} does not exist for {path}")
            return await self._require(connection, namespace, path)

    async def delete_checkpoint(self, username: str, raw_path: str, checkpoint_id: str) -> None:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._require_file(connection, namespace, path)
            condition = checkpoints.c.file_id == entry.id
            if checkpoint_id != "all":
                condition &= checkpoints.c.id == _checkpoint_id(checkpoint_id)
            deleted = await connection.execute(delete(checkpoints).where(condition))
            if deleted.rowcount == 0:
                raise NotFound(f"checkpoint {checkpoint_id} does not exist for {path}")

    # ----- helpers --------------------------------------------------------------------------------------

    async def _find(self, connection: AsyncConnection, namespace: Namespace, path: str,
                    lock: bool = False) -> Entry | None:
        if path == "":
            return ROOT
        query = select(*ENTRY_COLUMNS).where(files.c.namespace_id == namespace.id, files.c.path == path)
        row = (await connection.execute(query.with_for_update(key_share=True) if lock else query)).first()
        return _entry(row) if row else None

    async def _require(self, connection: AsyncConnection, namespace: Namespace, path: str,
                       lock: bool = False) -> Entry:
        entry = await self._find(connection, namespace, path, lock)
        if entry is None:
            raise NotFound(f"No such file or directory: {path}")
        return entry

    async def _require_directory(self, connection: AsyncConnection, namespace: Namespace, path: str,
                                 lock: bool = False) -> Entry:
        entry = await self._find(connection, namespace, path, lock)
        if entry is None:
            raise NotFound(f"No such directory: {path}")
        if entry.kind != "directory":
            raise WrongKind(f"{path} is a file, not a directory.")
        return entry

    async def _require_file(self, connection: AsyncConnection, namespace: Namespace, path: str,
                            lock: bool = False) -> Entry:
        entry = await self._require(connection, namespace, path, lock)
        if entry.kind != "file":
            raise WrongKind(f"{path} is a directory, not a file.")
        return entry


def _moved_columns(old: str, new: str) -> tuple[Any, Any]:
    """path and parent of every entry of the subtree at ``old`` once it stands at ``new``."""
    cut = len(old) + 1  # substr is 1-based: what follows ``old``
    path = literal(new) + func.substr(files.c.path, cut)
    parent = case((files.c.path == old, literal(parent_of(new))), else_=literal(new) + func.substr(files.c.parent, cut))
    return path, parent


def _checkpoint_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise NotFound(f"checkpoint {raw!r} does not exist") from None


__all__ = ["Entry", "FileStore"]
