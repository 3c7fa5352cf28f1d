"""The file store: every member's namespace of directories and files, and their checkpoints.

Asynchronous all the way down, so that a slow or locked call never blocks the portal's event loop.
Every save and read of every user server passes through here, so the store speaks SQL to psycopg's
connection pool directly: SQLAlchemy's async layer cost about 0.5 ms per statement, more than the
statements themselves. The tables are declared (and migrated) in tables.py.

Every statement is scoped to one namespace, so a caller holding one member's name can reach nothing
else. Content is sealed with the member's data key and bound to their namespace. Sealed bytes are
immutable blobs shared by a file and its checkpoints (see tables.py): a checkpoint or a restore
moves no bytes. Whoever adds or drops a reference to a file's blob holds the file's row lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.errors import DiskFull, LockNotAvailable
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from appliance.storage.crypto import MasterKeyFile, Sealer, SealError, new_data_key
from appliance.storage.errors import AlreadyExists, BadPath, Busy, NotFound, TooLarge, WrongKind
from appliance.storage.paths import human_size, is_within, name_of, normalize, parent_of
from appliance.storage.settings import StorageSettings

log = logging.getLogger(__name__)
Connection = psycopg.AsyncConnection[Any]  # rows are named tuples (db.pool)
T = TypeVar("T")
ENTRY = "f.id, f.path, f.kind, f.size, f.sha256, f.trusted, f.created_at, f.modified_at"
# a path and everything below it: one range on the (namespace_id, path) index, thanks to the C collation
# what a file shares with its checkpoints: one version of it
VERSION = "blob_id, size, sha256, trusted"
# A save of an existing file in one statement: seal-key check, new blob, the file pointed at it, and
# its first checkpoint if it has none. Answers (key still current, previous blob, the entry or NULLs).
# Nothing is inserted when the key changed (reencrypt) or no file is at the path.
REPLACE_FILE = f"""
WITH key AS (SELECT id FROM storage.namespaces WHERE id = %(ns)s AND wrapped_key = %(wrapped)s FOR SHARE),
previous AS (SELECT id, blob_id FROM storage.files
             WHERE namespace_id = %(ns)s AND path = %(path)s AND kind = 'file' FOR UPDATE),
blob AS (INSERT INTO storage.blobs (namespace_id, content, encoding)
         SELECT key.id, %(content)s, %(encoding)s FROM key, previous RETURNING id),
f AS (UPDATE storage.files f SET ({VERSION}) = (blob.id, %(size)s, %(sha256)s, %(trusted)s),
          modified_at = now()
      FROM previous, blob WHERE f.id = previous.id RETURNING f.*),
checkpoint AS (INSERT INTO storage.checkpoints (file_id, {VERSION}) SELECT f.id, {VERSION}
               FROM f WHERE %(first)s AND NOT EXISTS (SELECT FROM storage.checkpoints c WHERE c.file_id = f.id))
SELECT EXISTS (SELECT FROM key) AS key_current, (SELECT blob_id FROM previous) AS previous_blob, {ENTRY}
FROM (VALUES (1)) one LEFT JOIN f ON true
"""
SUBTREE = "f.namespace_id = %(ns)s AND (f.path = %(path)s OR (f.path >= %(below)s AND f.path < %(after)s))"
# Hashing, compressing and sealing release the GIL: above this size they run in a worker thread, so
# that one big notebook does not stall every other member's calls on the portal's event loop.
IN_THREAD_BYTES = 256 * 1024
# Notebooks are JSON and compress several-fold (fewer bytes to seal, write, back up and send);
# images and archives do not, and are kept as they are.
COMPRESS_FROM_BYTES = 1024


@dataclass(frozen=True)
class Entry:
    id: int | None  # None for the root, which is not stored
    path: str
    kind: str  # "file" or "directory"
    size: int | None
    sha256: bytes | None
    trusted: bool  # a notebook whose outputs the member vouched for (jupyter's notebook trust)
    created_at: datetime | None
    modified_at: datetime | None

    @property
    def name(self) -> str:
        return name_of(self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "name": self.name, "type": self.kind, "size": self.size,
            "hash": self.sha256.hex() if self.sha256 else None, "trusted": self.trusted,

            "created": self.created_at.isoformat() if self.created_at else None,
            "last_modified": self.modified_at.isoformat() if self.modified_at else None,
        }


ROOT = Entry(None, "", "directory", None, None, False, None, None)


@dataclass(frozen=True)
class Content:
    """A file's bytes as stored: ``deflated`` means zlib-compressed (HTTP's "deflate" coding), which
    the storage API can pass on to a client that accepts it."""

    data: bytes
    deflated: bool

    async def plain(self) -> bytes:
        if not self.deflated:
            return self.data
        return await _cpu(zlib.decompress, self.data)


async def _cpu(function: Callable[..., T], data: bytes, *args: Any) -> T:
    if len(data) < IN_THREAD_BYTES:
        return function(data, *args)
    return await asyncio.to_thread(function, data, *args)


def _digest_and_compress(data: bytes) -> tuple[bytes, Content]:
    """The member's bytes' SHA-256, and what to seal: deflated when that saves a tenth or more."""
    digest = hashlib.sha256(data).digest()
    if len(data) >= COMPRESS_FROM_BYTES:
        deflated = zlib.compress(data, 1)
        if len(deflated) < 0.9 * len(data):
            return digest, Content(deflated, True)
    return digest, Content(data, False)


def _entry(row: Any) -> Entry:
    """The Entry in a row that holds the ENTRY columns."""
    return Entry(row.id, row.path, row.kind, row.size, row.sha256, row.trusted, row.created_at, row.modified_at)


def _subtree(namespace_id: int, path: str) -> dict[str, Any]:
    return {"ns": namespace_id, "path": path, "below": path + "/", "after": path + "0"}


@dataclass(frozen=True)
class Namespace:
    id: int
    username: str
    wrapped: bytes  # its data key as stored, wrapped by a master key
    sealer: Sealer

    @property
    def context(self) -> bytes:
        return f"namespace:{self.id}".encode()  # sealed bytes are bound to their namespace


class FileStore:
    def __init__(self, pool: AsyncConnectionPool[Connection], master_keys: MasterKeyFile,
                 settings: StorageSettings):
        self.pool = pool
        self.master_keys = master_keys
        self.settings = settings
        self._namespaces: dict[str, Namespace] = {}
        self._pending: set[asyncio.Task[None]] = set()

    # ----- connections -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection in autocommit: a read is one round trip, no BEGIN/COMMIT."""
        try:
            async with self.pool.connection() as connection:
                yield connection
        except LockNotAvailable:
            raise Busy("the file is busy with another change; try again in a moment.") from None
        except DiskFull:
            raise Busy("the notebook database's disk is full, so this was not saved: keep the notebook open and "
                       "tell an administrator (the admin console's System page shows the disks).") from None
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise Busy(f"the notebook database is not answering ({type(exc).__name__}); "
                       "try again in a moment.") from None

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with self._connection() as connection, connection.transaction():
            yield connection

    # ----- namespaces ------------------------------------------------------------------------------------

    async def namespace(self, username: str) -> Namespace:
        """The member's namespace, created (with a fresh data key) on first use. Cached: writes check
        the cached key is still the member's (see _current), reads retry once if it was replaced."""
        cached = self._namespaces.get(username)
        return cached if cached is not None else await self._load_namespace(username)

    async def _load_namespace(self, username: str) -> Namespace:
        query = "SELECT id, wrapped_key FROM storage.namespaces WHERE username = %s"
        async with self._connection() as connection:
            row = await (await connection.execute(query, (username,))).fetchone()
            if row is None:
                await connection.execute(
                    "INSERT INTO storage.namespaces (username, wrapped_key) VALUES (%s, %s) "
                    "ON CONFLICT (username) DO NOTHING", (username, self.master_keys.current().wrap(new_data_key())))
                row = await (await connection.execute(query, (username,))).fetchone()
        assert row is not None
        wrapped = bytes(row.wrapped_key)
        namespace = Namespace(row.id, username, wrapped, Sealer(self.master_keys.current().unwrap(wrapped)))
        if len(self._namespaces) > 10_000:
            self._namespaces.clear()
        self._namespaces[username] = namespace
        return namespace

    async def _current(self, connection: Connection, namespace: Namespace) -> Namespace:
        """Inside a writing transaction: lock the member's key against re-encryption, and make sure
        the cached one is still theirs (``appliance storage reencrypt`` may have replaced it)."""
        row = await (await connection.execute(
            "SELECT wrapped_key FROM storage.namespaces WHERE id = %s FOR SHARE", (namespace.id,))).fetchone()
        assert row is not None
        wrapped = bytes(row.wrapped_key)
        if namespace.wrapped == wrapped:
            return namespace
        fresh = Namespace(namespace.id, namespace.username, wrapped, Sealer(self.master_keys.current().unwrap(wrapped)))
        self._namespaces[namespace.username] = fresh
        return fresh

    def _forget(self, username: str) -> None:
        self._namespaces.pop(username, None)

    # ----- reading ---------------------------------------------------------------------------------------

    async def usage(self, username: str) -> tuple[int, int]:
        """How many files the member keeps and their bytes (before encryption and compression); (0, 0) for
        a member who never stored anything. Checkpoints are not counted."""
        async with self._connection() as connection:
            row = await (await connection.execute(
                "SELECT count(*) AS files, coalesce(sum(f.size), 0) AS bytes FROM storage.files f "
                "JOIN storage.namespaces n ON n.id = f.namespace_id WHERE n.username = %s AND f.kind = 'file'",
                (username,))).fetchone()
        return (int(row.files), int(row.bytes)) if row else (0, 0)

    async def stat(self, username: str, raw_path: str) -> Entry:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._connection() as connection:
            return await self._require(connection, namespace, path)

    async def listing(self, username: str, raw_path: str) -> tuple[Entry, list[Entry]]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._connection() as connection:
            directory = await self._require(connection, namespace, path)
            if directory.kind != "directory":
                raise WrongKind(f"{path} is not a directory.")
            return directory, await self._children(connection, namespace, path)

    async def _children(self, connection: Connection, namespace: Namespace, path: str) -> list[Entry]:
        rows = await (await connection.execute(
            f"SELECT {ENTRY} FROM storage.files f WHERE f.namespace_id = %s AND f.parent = %s AND f.path <> '' "
            "ORDER BY f.path", (namespace.id, path))).fetchall()
        return [_entry(row) for row in rows]

    async def read(self, username: str, raw_path: str) -> tuple[Entry, bytes]:
        entry, content, _ = await self.get(username, raw_path)
        if content is None:
            raise WrongKind(f"{entry.path} is a directory, not a file.")
        return entry, await content.plain()

    async def get(self, username: str, raw_path: str) -> tuple[Entry, Content | None, list[Entry] | None]:
        """A file with its bytes, or a directory with its entries: one query for a file."""
        try:
            return await self._get(username, raw_path)
        except SealError:
            self._forget(username)  # the data key was replaced since it was cached
            return await self._get(username, raw_path)

    async def _get(self, username: str, raw_path: str) -> tuple[Entry, Content | None, list[Entry] | None]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._connection() as connection:
            if path == "":
                return ROOT, None, await self._children(connection, namespace, "")
            row = await (await connection.execute(
                f"SELECT {ENTRY}, b.content, b.encoding FROM storage.files f "
                "LEFT JOIN storage.blobs b ON b.id = f.blob_id "
                "WHERE f.namespace_id = %s AND f.path = %s", (namespace.id, path), binary=True)).fetchone()
            if row is None:
                raise NotFound(f"No such file or directory: {path}")
            if row.kind == "directory":  # the entry is in hand: only its children are left to read
                return _entry(row), None, await self._children(connection, namespace, path)
        opened = await _cpu(namespace.sealer.open, row.content, namespace.context)
        return _entry(row), Content(opened, row.encoding == "deflate"), None

    # ----- writing ---------------------------------------------------------------------------------------

    async def create(self, username: str, raw_path: str, data: bytes) -> Entry:
        """A new file, never replacing anything: AlreadyExists when something is at the path (the
        gallery's clone picks another name then)."""
        return await self.write(username, raw_path, data, exclusive=True)

    async def write(self, username: str, raw_path: str, data: bytes, first_checkpoint: bool = False,
                    trusted: bool = False, exclusive: bool = False) -> Entry:
        """Create or replace a file. Its directory must exist; a directory cannot be overwritten.
        ``trusted``: the member's server vouches for this notebook's outputs. ``exclusive``: create
        only (see ``create``).

        With ``first_checkpoint``, a file that has no checkpoint yet gets one of what was written
        (what jupyter_server does after a notebook's first save), in the same transaction."""
        path = normalize(raw_path)
        if not path:
            raise WrongKind("the root is a directory, not a file.")
        self.check_size(path, len(data))
        digest, content = await _cpu(_digest_and_compress, data)
        values = {"path": path, "parent": parent_of(path), "size": len(data), "sha256": digest, "trusted": trusted,
                  "first": first_checkpoint,
                  "encoding": "deflate" if content.deflated else "identity"}
        namespace = await self.namespace(username)
        if exclusive:  # straight to the insert below, which refuses an existing path
            values.update(ns=namespace.id, content=await _cpu(namespace.sealer.seal, content.data, namespace.context))
        else:
            replaced, namespace = await self._replace(username, namespace, content, values)
            if replaced is not None:
                return replaced
        async with self._transaction() as connection:  # a new file
            current = await self._current(connection, namespace)
            if current is not namespace:
                values["content"] = await _cpu(current.sealer.seal, content.data, current.context)
            await self._require_directory(connection, current, parent_of(path), lock=True)
            blob = await self._one(connection, "INSERT INTO storage.blobs (namespace_id, content, encoding) "
                                               "VALUES (%(ns)s, %(content)s, %(encoding)s) RETURNING id", values)
            inserted = await (await connection.execute(
                f"INSERT INTO storage.files AS f (namespace_id, path, parent, kind, {VERSION}) VALUES (%(ns)s, "
                "%(path)s, %(parent)s, 'file', %(blob)s, %(size)s, %(sha256)s, %(trusted)s) "
                f"ON CONFLICT ON CONSTRAINT files_namespace_path DO NOTHING RETURNING {ENTRY}",
                {**values, "blob": blob.id})).fetchone()
            if inserted is None:
                found = await self._find(connection, current, path)
                if exclusive and found is not None:
                    raise AlreadyExists(f"File already exists: {path}")
                raise (WrongKind(f"{path} is a directory; a file cannot replace it.") if found and found.kind ==
                       "directory" else Busy(f"{path} was created by another call meanwhile; try again."))
            if first_checkpoint:
                await connection.execute(f"INSERT INTO storage.checkpoints (file_id, {VERSION}) "
                                         f"SELECT id, {VERSION} FROM storage.files WHERE id = %s", (inserted.id,))
        return _entry(inserted)

    async def _replace(self, username: str, namespace: Namespace, content: Content,
                       values: dict[str, Any]) -> tuple[Entry | None, Namespace]:
        """Save over the file at values["path"] in one statement; (None, the current namespace) when no
        file is there (``values`` then holds the sealed content for the insert)."""
        for _ in range(2):
            values.update(ns=namespace.id, wrapped=namespace.wrapped,
                          content=await _cpu(namespace.sealer.seal, content.data, namespace.context))
            async with self._connection() as connection:
                row = await self._one(connection, REPLACE_FILE, values)
            if row.key_current:
                break
            namespace = await self._load_namespace(username)  # a new data key (reencrypt): seal again
        else:
            raise Busy("the member's data key is being replaced; try again in a moment.")
        if row.id is None:
            return None, namespace
        self._release_later(row.previous_blob)  # replaced: the previous bytes go once nothing else holds them
        return _entry(row), namespace

    def _release_later(self, blob: int) -> None:
        """Drop a file's previous blob after the save has answered, unless a checkpoint holds it.
        (Within the save's own statement a checkpoint made meanwhile could be missed.)"""
        self.in_background(self._release_now(blob))

    async def _release_now(self, blob: int) -> None:
        async with self._connection() as connection:
            await self._release(connection, [blob])

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Store upkeep that nobody waits for; a failure is logged and left for the next sweep."""
        async def run() -> None:
            try:
                await work
            except Exception:
                log.warning("storage upkeep failed; the next start's sweep will finish it", exc_info=True)

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for the upkeep still under way (before closing the pool)."""
        while self._pending:
            await asyncio.gather(*self._pending)

    async def sweep(self) -> None:
        """Delete blobs that nothing refers to (left by a portal that stopped before releasing them)."""
        async with self._connection() as connection:
            swept = await connection.execute(
                "DELETE FROM storage.blobs b WHERE NOT EXISTS (SELECT FROM storage.files WHERE blob_id = b.id) "
                "AND NOT EXISTS (SELECT FROM storage.checkpoints WHERE blob_id = b.id)")
        if swept.rowcount:
            log.info("swept %d unreferenced blob(s) from the notebook storage", swept.rowcount)

    async def mkdir(self, username: str, raw_path: str) -> Entry:
        """Create a directory (an existing one is fine). Its parent must exist."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        if not path:
            return ROOT
        async with self._transaction() as connection:
            await self._require_directory(connection, namespace, parent_of(path), lock=True)
            await connection.execute(
                "INSERT INTO storage.files (namespace_id, path, parent, kind) VALUES (%s, %s, %s, 'directory') "
                "ON CONFLICT ON CONSTRAINT files_namespace_path DO NOTHING", (namespace.id, path, parent_of(path)))
            entry = await self._require(connection, namespace, path)
        if entry.kind != "directory":
            raise WrongKind(f"{path} is a file, not a directory.")
        return entry

    async def delete(self, username: str, raw_path: str) -> None:
        """Delete a file, or a directory with everything in it, in one transaction."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        if not path:
            raise BadPath("the root directory cannot be deleted.")
        subtree = _subtree(namespace.id, path)
        async with self._transaction() as connection:
            locked = await connection.execute(f"SELECT f.id FROM storage.files f WHERE {SUBTREE} FOR UPDATE", subtree)
            if not await locked.fetchall():
                raise NotFound(f"No such file or directory: {path}")
            # the rows are locked, so no checkpoint can be added under them while this runs
            await connection.execute(
                f"WITH gone AS (DELETE FROM storage.files f WHERE {SUBTREE} RETURNING f.id, f.blob_id), "
                "gone_checkpoints AS (DELETE FROM storage.checkpoints WHERE file_id IN (SELECT id FROM gone) "
                "                     RETURNING blob_id) "
                "DELETE FROM storage.blobs WHERE id IN (SELECT blob_id FROM gone UNION SELECT blob_id FROM "
                "gone_checkpoints)", subtree)

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
            await connection.execute(
                f"UPDATE storage.files f SET path = %(new)s || substr(f.path, %(cut)s), parent = CASE "
                "WHEN f.path = %(path)s THEN %(new_parent)s ELSE %(new)s || substr(f.parent, %(cut)s) END "
                f"WHERE {SUBTREE}", {**_subtree(namespace.id, old), **_moved(old, new)})
            return await self._require(connection, namespace, new)

    async def copy(self, username: str, raw_source: str, raw_target: str) -> Entry:
        """Copy a file or a directory tree in one statement (server-side; the bytes stay sealed).
        Every copied file gets its own copy of the blob: a blob belongs to one file."""
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
            # a CTE calling nextval() is materialised once, so both inserts see the same new blob ids
            await connection.execute(
                "WITH source AS (SELECT f.*, CASE WHEN f.blob_id IS NOT NULL "
                f"  THEN nextval('storage.blobs_id_seq') END AS new_blob FROM storage.files f WHERE {SUBTREE}), "
                "copied AS (INSERT INTO storage.blobs (id, namespace_id, content, encoding) "
                "  SELECT s.new_blob, %(ns)s, b.content, b.encoding FROM source s "
                "  JOIN storage.blobs b ON b.id = s.blob_id) "
                f"INSERT INTO storage.files (namespace_id, path, parent, kind, {VERSION}) "
                "SELECT %(ns)s, %(new)s || substr(s.path, %(cut)s), CASE WHEN s.path = %(path)s THEN %(new_parent)s "
                "ELSE %(new)s || substr(s.parent, %(cut)s) END, s.kind, s.new_blob, s.size, s.sha256, s.trusted "
                "FROM source s", {**_subtree(namespace.id, source), **_moved(source, target)})
            return await self._require(connection, namespace, target)

    def check_size(self, path: str, size: int) -> None:
        if size > self.settings.max_file_size_bytes:
            raise self.too_large(path, size)

    def too_large(self, path: str, size: int | None = None) -> TooLarge:
        """413 naming the file and the limit; ``size`` is None when a stream went past the limit."""
        what = f"{name_of(path)} ({human_size(size)})" if size is not None else name_of(path)
        return TooLarge(f"{what} is larger than {human_size(self.settings.max_file_size_bytes)}, the largest file "
                        "this lab stores (storage.max_file_size_bytes). Nothing was saved.")

    # ----- checkpoints -----------------------------------------------------------------------------------

    async def create_checkpoint(self, username: str, raw_path: str) -> dict[str, Any]:
        """A checkpoint of the file as it is: a new reference to its blob, no bytes copied."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._lock_file(connection, namespace, path)
            row = await self._one(connection, f"INSERT INTO storage.checkpoints (file_id, {VERSION}) "
                                              f"SELECT id, {VERSION} FROM storage.files WHERE id = %s "
                                              "RETURNING id, created_at", (entry.id,))
            if self.settings.checkpoints_kept:
                pruned = await (await connection.execute(
                    "DELETE FROM storage.checkpoints WHERE file_id = %(file)s AND id < (SELECT min(id) FROM ("
                    "  SELECT id FROM storage.checkpoints WHERE file_id = %(file)s ORDER BY id DESC LIMIT %(kept)s) k) "
                    "RETURNING blob_id", {"file": entry.id, "kept": self.settings.checkpoints_kept})).fetchall()
                await self._release(connection, [blob for blob, in pruned])
        return {"id": str(row.id), "last_modified": row.created_at.isoformat()}

    async def trust(self, username: str, raw_path: str) -> Entry:
        """The member vouches for the file as it is now (jupyter's "trust notebook")."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._lock_file(connection, namespace, path)
            row = await self._one(connection, f"UPDATE storage.files f SET trusted = true WHERE f.id = %s "
                                              f"RETURNING {ENTRY}", (entry.id,))
        return _entry(row)

    async def list_checkpoints(self, username: str, raw_path: str) -> list[dict[str, Any]]:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._connection() as connection:
            entry = await self._require_file(connection, namespace, path)
            rows = await (await connection.execute(
                "SELECT id, created_at FROM storage.checkpoints WHERE file_id = %s ORDER BY id DESC",
                (entry.id,))).fetchall()
        return [{"id": str(id_), "last_modified": created.isoformat()} for id_, created in rows]

    async def restore_checkpoint(self, username: str, raw_path: str, checkpoint_id: str) -> Entry:
        """Point the file back at a checkpoint's blob (ID "latest": the newest checkpoint)."""
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._lock_file(connection, namespace, path)
            wanted = ("(SELECT max(id) FROM storage.checkpoints WHERE file_id = %(file)s)" if checkpoint_id == "latest"
                      else "%(checkpoint)s")
            row = await (await connection.execute(
                "WITH previous AS (SELECT blob_id FROM storage.files WHERE id = %(file)s) "
                f"UPDATE storage.files f SET ({VERSION}) = (c.blob_id, c.size, c.sha256, c.trusted), "
                "modified_at = now() "
                f"FROM storage.checkpoints c WHERE f.id = %(file)s AND c.file_id = %(file)s AND c.id = {wanted} "
                f"RETURNING {ENTRY}, (SELECT blob_id FROM previous) AS previous_blob",
                {"file": entry.id, "checkpoint": None if checkpoint_id == "latest" else _checkpoint_id(checkpoint_id)},
            )).fetchone()
            if row is None:
                raise NotFound(f"checkpoint {checkpoint_id} does not exist for {path}")
            await self._release(connection, [row.previous_blob])
        return _entry(row)

    async def delete_checkpoint(self, username: str, raw_path: str, checkpoint_id: str) -> None:
        namespace, path = await self.namespace(username), normalize(raw_path)
        async with self._transaction() as connection:
            entry = await self._lock_file(connection, namespace, path)
            if checkpoint_id == "all":
                deleted = await connection.execute(
                    "DELETE FROM storage.checkpoints WHERE file_id = %s RETURNING blob_id", (entry.id,))
            else:
                deleted = await connection.execute(
                    "DELETE FROM storage.checkpoints WHERE file_id = %s AND id = %s RETURNING blob_id",
                    (entry.id, _checkpoint_id(checkpoint_id)))
            blobs = [blob for blob, in await deleted.fetchall()]
            if not blobs:
                raise NotFound(f"checkpoint {checkpoint_id} does not exist for {path}")
            await self._release(connection, blobs)

    # ----- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    async def _one(connection: Connection, query: str, params: Any) -> Any:
        row = await (await connection.execute(query, params)).fetchone()
        assert row is not None
        return row

    @staticmethod
    async def _release(connection: Connection, blobs: list[int]) -> None:
        """Delete the blobs that nothing refers to any more (the caller holds their file's row lock)."""
        if blobs:
            await connection.execute(
                "DELETE FROM storage.blobs b WHERE b.id = ANY(%s) "
                "AND NOT EXISTS (SELECT FROM storage.files WHERE blob_id = b.id) "
                "AND NOT EXISTS (SELECT FROM storage.checkpoints WHERE blob_id = b.id)", (blobs,))

    async def _find(self, connection: Connection, namespace: Namespace, path: str,
                    lock: bool = False) -> Entry | None:
        """The entry at ``path``; with ``lock``, held against deletion and renaming (not against saves)."""
        if path == "":
            return ROOT
        row = await (await connection.execute(
            f"SELECT {ENTRY} FROM storage.files f WHERE f.namespace_id = %s AND f.path = %s"
            + (" FOR KEY SHARE" if lock else ""), (namespace.id, path))).fetchone()
        return _entry(row) if row else None

    async def _require(self, connection: Connection, namespace: Namespace, path: str,
                       lock: bool = False) -> Entry:
        entry = await self._find(connection, namespace, path, lock)
        if entry is None:
            raise NotFound(f"No such file or directory: {path}")
        return entry

    async def _require_directory(self, connection: Connection, namespace: Namespace, path: str,
                                 lock: bool = False) -> Entry:
        entry = await self._find(connection, namespace, path, lock)
        if entry is None:
            raise NotFound(f"No such directory: {path}")
        if entry.kind != "directory":
            raise WrongKind(f"{path} is a file, not a directory.")
        return entry

    async def _require_file(self, connection: Connection, namespace: Namespace, path: str) -> Entry:
        entry = await self._require(connection, namespace, path)
        if entry.kind != "file":
            raise WrongKind(f"{path} is a directory, not a file.")
        return entry

    async def _lock_file(self, connection: Connection, namespace: Namespace, path: str) -> Entry:
        """The file's entry, its row locked: the caller may change which blobs refer to it."""
        row = await (await connection.execute(
            f"SELECT {ENTRY} FROM storage.files f WHERE f.namespace_id = %s AND f.path = %s FOR UPDATE",
            (namespace.id, path))).fetchone()
        if row is None:
            raise NotFound(f"No such file or directory: {path}")
        if row.kind != "file":
            raise WrongKind(f"{path} is a directory, not a file.")
        return _entry(row)


def _moved(old: str, new: str) -> dict[str, Any]:
    """Parameters for rewriting the paths of the subtree at ``old`` so that it stands at ``new``."""
    return {"new": new, "new_parent": parent_of(new), "cut": len(old) + 1}  # substr is 1-based


def _checkpoint_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise NotFound(f"checkpoint {raw!r} does not exist") from None


__all__ = ["Content", "Entry", "FileStore"]
