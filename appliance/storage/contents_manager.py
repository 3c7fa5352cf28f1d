"""RemoteContentsManager: jupyter_server's contents API on the appliance's storage API.

Runs inside every user server (``ServerApp.contents_manager_class``). It holds no database
credentials, only a storage token for its one member, and talks to the portal's storage API over a
kept-alive HTTP connection. Models are built here exactly as jupyter_server's file manager builds
them (notebook validation, trust, formats, hidden files, copy names); the bytes live remotely.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import os
from base64 import decodebytes, encodebytes
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import aiohttp
import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.contents.manager import AsyncContentsManager, copy_pat
from nbformat import NotebookNode
from nbformat.sign import NotebookNotary
from nbformat.v4.nbjson import BytesEncoder
from nbformat.v4.rwbase import rejoin_lines, split_lines, strip_transient
from tornado.web import HTTPError
from traitlets import Bool, Float, Int, Unicode, default
from traitlets.log import get_logger
from yarl import URL

from appliance.storage.files_handler import StoredFilesHandler
from appliance.storage.mounts import Mount, parse_mounts
from appliance.storage.renewal import StorageToken

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else EPOCH


def _inside(*paths: str) -> None:
    """404 for a path that tries to leave the namespace, as the file manager answers one."""
    for path in paths:
        if any(part in (".", "..") for part in path.split("/")):
            raise HTTPError(404, f"{path} is outside root contents directory")


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part)


@dataclass(frozen=True)
class Reply:
    """A storage API answer, read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StorageClient:
    """The storage API over one kept-alive connection pool (one per event loop).

    aiohttp rather than httpx: a call through httpx cost ~0.7 ms on its own, through aiohttp ~0.2 ms,
    and every contents request makes one or two of them."""

    def __init__(self, url: str, token: StorageToken, timeout_s: float):
        self.url = url.rstrip("/")
        self.token = token  # renewed from the hub before it expires (renewal.py)
        self.timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aiohttp.ClientSession(
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), connector=aiohttp.TCPConnector(limit=20))
            self._loop = loop
        return self._client

    async def call(self, method: str, verb: str, path: str, *, params: dict[str, str] | None = None,
                   content: bytes | None = None) -> Reply:
        """One storage call; a storage error becomes the tornado HTTPError jupyter_server expects."""
        _inside(path)
        url = URL(f"{self.url}/{verb}/{quote(path.strip('/'), safe='/')}", encoded=True)
        try:
            reply = await self.authorized(method, url, params=params, content=content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise HTTPError(503, f"The notebook storage is unreachable ({type(exc).__name__}); "
                                 "try again in a moment.") from None
        if reply.status >= 400:
            try:
                message = reply.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = reply.body[:200].decode("utf-8", "replace") or HTTPStatus(reply.status).phrase
            raise HTTPError(reply.status, message)
        return reply

    async def authorized(self, method: str, url: URL, *, params: dict[str, str] | None = None,
                         content: bytes | None = None, content_type: str | None = None) -> Reply:
        """A request to ``url`` (the storage's, or another portal API's: the gallery's) as this server's
        member, whatever its answer; a token refused since it was sent is renewed and the request sent once
        more. Connection errors are raised."""
        token = await self.token.current(self._http())
        reply = await self._send(method, url, token, params, content, content_type)
        if reply.status == 401 and await self.token.renew(self._http(), token):  # refused since: once more
            reply = await self._send(method, url, self.token.value, params, content, content_type)
        return reply

    async def _send(self, method: str, url: URL, token: str, params: dict[str, str] | None,
                    content: bytes | None, content_type: str | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"}
        if content_type:
            headers["Content-Type"] = content_type
        async with self._http().request(method, url, params=params, data=content, headers=headers) as response:
            return Reply(response.status, response.headers, await response.read())

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def entry(self, path: str) -> dict[str, Any] | None:
        try:
            response = await self.call("GET", "stat", path)
        except HTTPError as error:
            if error.status_code == 404:
                return None
            raise
        entry: dict[str, Any] = response.json()
        return entry


class RemoteContentsManager(AsyncContentsManager):
    """Notebooks and files in the appliance's storage (PostgreSQL), reached over its HTTP API."""

    storage_url = Unicode(
        config=True,
        help="Base URL of the appliance's storage API, e.g. http://127.0.0.1:8000/api/storage/v1. "
             "Defaults to $APPLIANCE_STORAGE_URL.",
    )
    storage_token = Unicode(
        config=True,
        help="Storage token naming this server's member (the hub issues it at spawn). "
             "Defaults to $APPLIANCE_STORAGE_TOKEN.",
    )
    storage_renew_url = Unicode(
        config=True,
        help="Where the storage token is renewed before it expires (the hub's API; empty: never). "
             "Defaults to $APPLIANCE_STORAGE_RENEW_URL.",
    )
    hub_api_token = Unicode(config=True, help="This server's own JupyterHub API token, which renews the storage "
                            "token. Defaults to $JUPYTERHUB_API_TOKEN.")
    storage_timeout = Float(120.0, config=True, help="Seconds one storage call may take.")
    hash_algorithm = Unicode("sha256", help="The storage keeps SHA-256 digests; no other algorithm.")
    max_copy_folder_size_mb = Int(500, config=True, help="Largest directory, in MB, that may be copied.")
    delete_to_trash = Bool(True, config=True, help="As the file manager's: with always_delete_dir, whether a "
                           "non-empty directory may be deleted (there is no trash; deleted is deleted).")
    always_delete_dir = Bool(False, config=True, help="Allow deleting non-empty directories even when "
                             "delete_to_trash is off.")
    mounts = Unicode(
        config=True,
        help="Hybrid mode: real directories shown in the namespace, 'NAME=PATH[:ro], …' (see the appliance's "
             "storage.mounts). Defaults to $APPLIANCE_STORAGE_MOUNTS.",
    )
    username = Unicode(config=True, help="The member, for {username} in mounts. Defaults to $JUPYTERHUB_USER.")

    @default("mounts")
    def _mounts_default(self) -> str:
        return os.environ.get("APPLIANCE_STORAGE_MOUNTS", "")

    @default("username")
    def _username_default(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    @default("storage_url")
    def _storage_url_default(self) -> str:
        return os.environ.get("APPLIANCE_STORAGE_URL", "")

    @default("storage_token")
    def _storage_token_default(self) -> str:
        return os.environ.get("APPLIANCE_STORAGE_TOKEN", "")

    @default("storage_renew_url")
    def _storage_renew_url_default(self) -> str:
        return os.environ.get("APPLIANCE_STORAGE_RENEW_URL", "")

    @default("hub_api_token")
    def _hub_api_token_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("notary")
    def _notary_default(self) -> NotebookNotary:
        # Trust lives in the storage, with the bytes it vouches for (see storage/tables.py); this notary
        # only computes and remembers signatures for the life of the server, without a sqlite file
        # in a home directory that may not outlive the server.
        return NotebookNotary(parent=self, db_file=":memory:", secret=os.urandom(32))

    @default("checkpoints_class")
    def _checkpoints_class_default(self) -> type:
        return RemoteCheckpoints

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type:
        return StoredFilesHandler

    @property
    def storage(self) -> StorageClient:
        client: StorageClient | None = getattr(self, "_storage_client", None)
        if client is None:
            if not self.storage_url or not self.storage_token:
                raise HTTPError(500, "RemoteContentsManager needs storage_url and storage_token "
                                     "(or $APPLIANCE_STORAGE_URL and $APPLIANCE_STORAGE_TOKEN).")
            token = StorageToken(self.storage_token, self.storage_renew_url, self.hub_api_token)
            client = StorageClient(self.storage_url, token, self.storage_timeout)
            self._storage_client = client
        return client

    # ----- hybrid mode: routing to mounted folders ---------------------------------------------------------

    @property
    def folders(self) -> dict[str, MountedFolder]:
        folders: dict[str, MountedFolder] | None = getattr(self, "_folders", None)
        if folders is None:
            folders = {m.name: MountedFolder(m, self) for m in parse_mounts(self.mounts)}
            self._folders = folders
        return folders

    def _route(self, path: str) -> tuple[MountedFolder, str] | None:
        """The mounted folder holding ``path`` and the path inside it, or None for the storage."""
        head, _, rest = path.strip("/").partition("/")
        folder = self.folders.get(head)
        return (folder, rest) if folder is not None else None

    def _refuse_crossing(self, old_path: str, new_path: str, verb: str) -> None:
        old, new = self._route(old_path), self._route(new_path)
        if (old and old[0]) is not (new and new[0]):
            where = (new or old)[0].mount.name  # type: ignore[index]
            raise HTTPError(400, f"Cannot {verb} {old_path} to {new_path}: {where}/ is a folder on this machine, "
                                 "not your notebook storage. Copy it instead, then delete the original.")

    async def aclose(self) -> None:
        """Close the kept-alive connections to the storage (the server's shutdown, tests)."""
        client: StorageClient | None = getattr(self, "_storage_client", None)
        if client is not None:
            await client.aclose()

    def info_string(self) -> str:
        return f"Serving notebooks from the appliance's storage at {self.storage_url}"

    # ----- existence -------------------------------------------------------------------------------------

    async def dir_exists(self, path: str) -> bool:
        if routed := self._route(path):
            return routed[1] == "" or bool(await ensure_async(routed[0].manager.dir_exists(routed[1])))
        entry = await self.storage.entry(path.strip("/"))
        return entry is not None and entry["type"] == "directory"

    async def file_exists(self, path: str = "") -> bool:
        if routed := self._route(path):
            return bool(await ensure_async(routed[0].manager.file_exists(routed[1])))
        entry = await self.storage.entry(path.strip("/"))
        return entry is not None and entry["type"] == "file"

    async def exists(self, path: str) -> bool:
        if routed := self._route(path):
            return routed[1] == "" or bool(await ensure_async(routed[0].manager.exists(routed[1])))
        return await self.storage.entry(path.strip("/")) is not None

    async def increment_filename(self, filename: str, path: str = "", insert: str = "") -> str:
        """jupyter_server's unique name (Untitled.ipynb, Untitled1.ipynb, …), found from one listing of the
        directory instead of one storage call per name taken (a member with thirty Untitled notebooks
        waited for thirty-one before a new one opened)."""
        path = path.strip("/")
        if self._route(f"{path}/{filename}".strip("/")):
            return str(await super().increment_filename(filename, path, insert))
        try:
            listing = (await self.storage.call("GET", "list", path)).json()
        except HTTPError as error:
            if error.status_code != 404:
                raise
            listing = {"entries": []}
        taken = {entry["name"] for entry in listing.get("entries", [])} | (set(self.folders) if path == "" else set())
        basename, dot, ext = filename.rpartition(".")
        if ext != "ipynb":
            basename, dot, ext = filename.partition(".")
        return next(name for name in (f"{basename}{f'{insert}{i}' if i else ''}{dot}{ext}" for i in itertools.count())
                    if name not in taken)

    async def is_hidden(self, path: str) -> bool:
        return _hidden(path.strip("/"))

    async def get_kernel_path(self, path: str, model: Any = None) -> str:
        if await self.dir_exists(path):
            return path
        return path.rsplit("/", 1)[0] if "/" in path else ""

    # ----- reading ----------------------------------------------------------------------------------------

    def _base_model(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": entry["name"], "path": entry["path"], "last_modified": _time(entry["last_modified"]),
            "created": _time(entry["created"]), "content": None, "format": None, "mimetype": None,
            "size": entry["size"], "writable": True, "hash": None, "hash_algorithm": None,
        }

    def _refuse_hidden(self, path: str) -> None:
        if not self.allow_hidden and _hidden(path):
            self.log.info("Refusing to serve hidden file or directory %r, via 404 Error", path)
            raise HTTPError(404, f"file or directory does not exist: {path!r}")

    async def get(self, path: str, content: bool = True, type: str | None = None, format: str | None = None,
                  require_hash: bool = False) -> dict[str, Any]:
        """One storage call: the entry alone, or with its bytes (a file) or its entries (a directory)."""
        path = path.strip("/")
        _inside(path)
        self._refuse_hidden(path)
        if routed := self._route(path):
            folder, inner = routed
            return folder.outer(await ensure_async(folder.manager.get(inner, content, type, format, require_hash)))
        listing, data = None, None
        if content:
            try:
                response = await self.storage.call("GET", "read", path)
            except HTTPError as error:
                if error.status_code == 404:
                    raise HTTPError(404, f"No such file or directory: {path}") from None
                raise
            if response.headers.get("content-type", "").startswith("application/json"):
                listing = entry = response.json()
            else:
                entry, data = json.loads(response.headers["x-storage-entry"]), response.body
        else:
            found = await self.storage.entry(path)
            if found is None:
                raise HTTPError(404, f"No such file or directory: {path}")
            entry = found
        if entry["type"] == "directory":
            if type not in (None, "directory"):
                raise HTTPError(400, f"{path} is a directory, not a {type}", reason="bad type")
            model = self._dir_model(entry, listing)
            if path == "" and listing is not None:  # the mounted folders stand at the top
                names = {folder_name for folder_name in self.folders}
                mounted = [folder.outer(await ensure_async(folder.manager.get("", content=False)))
                           for folder in self.folders.values()]
                model["content"] = [m for m in model["content"] if m["name"] not in names] + mounted
        elif type == "notebook" or (type is None and path.endswith(".ipynb")):
            model = self._notebook_model(entry, data, require_hash)
        else:
            if type == "directory":
                raise HTTPError(400, f"{path} is not a directory", reason="bad type")
            model = self._file_model(entry, data, format, require_hash)
        self.emit(data={"action": "get", "path": path})
        return model

    def _dir_model(self, entry: dict[str, Any], listing: dict[str, Any] | None) -> dict[str, Any]:
        model = self._base_model(entry)
        model.update(type="directory", size=None)
        if listing is not None:
            model["content"] = [
                self._entry_model(child) for child in listing["entries"]
                if self.should_list(child["name"]) and (self.allow_hidden or not child["name"].startswith("."))
            ]
            model["format"] = "json"
        return model

    def _entry_model(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A content-less model built from an entry alone (listings, and the answer to a save)."""
        model = self._base_model(entry)
        if entry["type"] == "directory":
            model.update(type="directory", size=None)
        elif entry["path"].endswith(".ipynb"):
            model["type"] = "notebook"
        else:
            model.update(type="file", mimetype=mimetypes.guess_type(entry["path"])[0])
        return model

    def _file_model(self, entry: dict[str, Any], data: bytes | None, format: str | None,
                    require_hash: bool) -> dict[str, Any]:
        model = self._base_model(entry)
        model["type"] = "file"
        model["mimetype"] = mimetypes.guess_type(entry["path"])[0]
        if data is not None:
            text, format = _decode(data, format, entry["path"])
            if model["mimetype"] is None:
                model["mimetype"] = {"text": "text/plain", "base64": "application/octet-stream"}[format]
            model.update(content=text, format=format)
        if require_hash:
            model.update(hash=entry["hash"], hash_algorithm=self.hash_algorithm)
        return model

    def _notebook_model(self, entry: dict[str, Any], data: bytes | None, require_hash: bool) -> dict[str, Any]:
        model = self._base_model(entry)
        model["type"] = "notebook"
        if data is not None:
            validation_error: dict[str, Any] = {}
            try:
                nb = notebook_from_text(data.decode("utf-8"), validation_error)
            except Exception as exc:
                raise HTTPError(400, f"Unreadable Notebook: {entry['path']} {exc!r}") from exc
            if entry["trusted"]:
                self.notary.sign(nb)  # so that the notary's own checks agree, as with the file manager's
            else:
                self.log.warning("Notebook %s is not trusted", entry["path"])
            self.notary.mark_cells(nb, entry["trusted"])
            model.update(content=nb, format="json")
            self.validate_notebook_model(model, validation_error)
        if require_hash:
            model.update(hash=entry["hash"], hash_algorithm=self.hash_algorithm)
        return model

    # ----- writing ----------------------------------------------------------------------------------------

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        path = path.strip("/")
        _inside(path)
        if routed := self._route(path):
            folder, inner = routed
            folder.refuse_writes(path)
            return folder.outer(await ensure_async(folder.manager.save(model, inner)))
        self.run_pre_save_hooks(model=model, path=path)
        if "type" not in model:
            raise HTTPError(400, "No file type provided")
        if "content" not in model and model["type"] != "directory":
            raise HTTPError(400, "No file content provided")
        validation_error: dict[str, Any] = {}
        try:
            entry = await self._save_entry(model, path, validation_error)
        except HTTPError:
            raise
        except Exception as exc:
            self.log.error("Error while saving file: %s %s", path, exc, exc_info=True)
            raise HTTPError(500, f"Unexpected error while saving file: {path} {exc}") from exc
        validation_message = None
        if model["type"] == "notebook":
            self.validate_notebook_model(model, validation_error=validation_error)
            validation_message = model.get("message")
        saved = self._entry_model(entry)
        if validation_message:
            saved["message"] = validation_message
        self.run_post_save_hooks(model=saved, os_path=path)
        self.emit(data={"action": "save", "path": path})
        return saved

    async def _save_entry(self, model: dict[str, Any], path: str, validation_error: dict[str, Any]) -> dict[str, Any]:
        if model["type"] == "notebook":
            nb = nbformat.from_dict(model["content"])
            trusted = self._cells_trusted(nb)
            # The default notary remembers nothing a save needs (the storage keeps the trust), so it signs
            # nothing here: the signature was a tenth of a small save. A notary configured with a store of
            # its own keeps signing, as with the file manager.
            if self.notary.db_file != ":memory:":
                self.check_and_sign(nb, path)
            elif not trusted:
                self.log.warning("Notebook %s is not trusted", path)
            text = notebook_text(nb, validation_error)
            # like the file manager, a notebook's first save also makes its first checkpoint
            return await self._write(path, text.encode("utf-8"), first_checkpoint=True, trusted=trusted)
        if model["type"] == "file":
            return await self._write(path, _encode(model["content"], model.get("format"), path))
        if model["type"] == "directory":
            if not self.allow_hidden and _hidden(path):
                raise HTTPError(400, f"Cannot create hidden directory {path!r}")
            entry: dict[str, Any] = (await self.storage.call("PUT", "mkdir", path)).json()
            return entry
        raise HTTPError(400, f"Unhandled contents type: {model['type']}")

    def _cells_trusted(self, nb: NotebookNode) -> bool:
        """The notary's check_cells on shallow copies of the cells: it pops their "trusted" marks."""
        cells = [NotebookNode({**cell, "metadata": NotebookNode(cell.metadata)}) for cell in nb.cells]
        return bool(self.notary.check_cells(NotebookNode(nbformat=nb.nbformat, cells=cells)))

    async def _write(self, path: str, data: bytes, first_checkpoint: bool = False,
                     trusted: bool = False) -> dict[str, Any]:
        if not self.allow_hidden and _hidden(path):
            raise HTTPError(400, f"Cannot create hidden file {path!r}")
        params = {"checkpoint": "if-none"} if first_checkpoint else {}
        if trusted:
            params["trusted"] = "yes"
        entry: dict[str, Any] = (await self.storage.call("PUT", "write", path, params=params, content=data)).json()
        return entry

    async def trust_notebook(self, path: str) -> None:
        """Trust the notebook as it is now: kept in the storage with its bytes."""
        path = path.strip("/")
        _inside(path)
        if routed := self._route(path):
            await ensure_async(routed[0].manager.trust_notebook(routed[1]))
            return
        self.log.warning("Trusting notebook %s", path)
        await self.storage.call("POST", "trust", path)

    async def delete_file(self, path: str) -> None:
        path = path.strip("/")
        _inside(path)
        if routed := self._route(path):
            folder, inner = routed
            if not inner:
                raise HTTPError(400, f"{path}/ is a mounted folder; it cannot be deleted.")
            folder.refuse_writes(path)
            await ensure_async(folder.manager.delete(inner))
            return
        if not self.allow_hidden and _hidden(path):
            raise HTTPError(400, f"Cannot delete file or directory {path!r}")
        entry = await self.storage.entry(path)
        if entry is None:
            raise HTTPError(404, f"File or directory does not exist: {path}")
        refuse_non_empty = entry["type"] == "directory" and not self.always_delete_dir and not self.delete_to_trash
        if refuse_non_empty and (await self.storage.call("GET", "list", path)).json()["entries"]:
            raise HTTPError(400, f"Directory {path} not empty")
        await self.storage.call("DELETE", "delete", path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        _inside(old_path, new_path)
        if new_path == old_path:
            return
        if not self.allow_hidden and (_hidden(old_path) or _hidden(new_path)):
            raise HTTPError(400, f"Cannot rename file or directory {old_path!r}")
        for routed in (self._route(old_path), self._route(new_path)):
            if routed and not routed[1]:
                raise HTTPError(400, f"{routed[0].mount.name}/ is a mounted folder; it cannot be renamed.")
        self._refuse_crossing(old_path, new_path, "move")
        if routed := self._route(old_path):
            folder, inner = routed
            new_inner = new_path.partition("/")[2]
            folder.refuse_writes(old_path)
            await ensure_async(folder.manager.rename(inner, new_inner))
            return
        try:
            await self.storage.call("POST", "rename", old_path, params={"to": new_path})
        except HTTPError as error:
            if error.status_code == 404 and await self.storage.entry(old_path) is None:
                raise HTTPError(404, f"File or directory does not exist: {old_path}") from None
            raise

    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        """Copy a file or a directory on the server side, named as jupyter_server names copies."""
        path = from_path.strip("/")
        if self._route(path) or (to_path is not None and self._route(to_path)):
            # across a mounted folder: jupyter_server's own copy, through get and save (files only)
            copied: dict[str, Any] = await AsyncContentsManager.copy(self, from_path, to_path)
            return copied
        from_dir, from_name = path.rsplit("/", 1) if "/" in path else ("", path)
        source = await self.storage.entry(path)
        if source is None:
            raise HTTPError(404, f"No such file or directory: {path}")
        self._refuse_hidden(path)
        destination = from_dir if to_path is None else to_path.strip("/")
        if source["type"] == "directory":
            return await self._copy_directory(path, from_name, destination)
        if await self.dir_exists(destination):
            name = await self.increment_filename(copy_pat.sub(".", from_name), destination, insert="-Copy")
            destination = f"{destination}/{name}".strip("/")
        elif to_path is not None:
            if "/" in destination and not await self.dir_exists(destination.rsplit("/", 1)[0]):
                raise HTTPError(404, f"No such parent directory: {destination.rsplit('/', 1)[0]} to copy file in")
        else:
            raise HTTPError(404, f"No such directory: {destination}")
        entry = (await self.storage.call("POST", "copy", path, params={"to": destination})).json()
        self.emit(data={"action": "copy", "path": destination, "source_path": from_path})
        return self._entry_model(entry)

    # checkpoints of files in mounted folders are the file manager's own (.ipynb_checkpoints there)

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        if routed := self._route(path):
            return dict(await ensure_async(routed[0].manager.create_checkpoint(routed[1])))
        return dict(await super().create_checkpoint(path))

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        if routed := self._route(path):
            return list(await ensure_async(routed[0].manager.list_checkpoints(routed[1])))
        return list(await super().list_checkpoints(path))

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        if routed := self._route(path):
            routed[0].refuse_writes(path)
            await ensure_async(routed[0].manager.restore_checkpoint(checkpoint_id, routed[1]))
            return
        await super().restore_checkpoint(checkpoint_id, path)

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        if routed := self._route(path):
            await ensure_async(routed[0].manager.delete_checkpoint(checkpoint_id, routed[1]))
            return
        await super().delete_checkpoint(checkpoint_id, path)

    async def _copy_directory(self, path: str, from_name: str, destination: str) -> dict[str, Any]:
        """As the file manager copies a folder: into ``destination`` (made if missing), named
        "<name>-CopyN" when the name is taken, never over the size limit."""
        await self._check_folder_size(path)
        name = copy_pat.sub(".", from_name)
        if await self.dir_exists(destination):
            name = await self.increment_filename(name, destination, insert="-Copy")
        else:
            await self._make_directories(destination)
        target = f"{destination}/{name}".strip("/")
        entry = (await self.storage.call("POST", "copy", path, params={"to": target})).json()
        self.emit(data={"action": "copy", "path": target, "source_path": path})
        return self._entry_model(entry)

    async def _make_directories(self, path: str) -> None:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            await self.storage.call("PUT", "mkdir", "/".join(parts[:depth]))

    async def _check_folder_size(self, path: str) -> None:
        total, pending = 0, [path]
        while pending:
            listing = (await self.storage.call("GET", "list", pending.pop())).json()
            for child in listing["entries"]:
                if child["type"] == "directory":
                    pending.append(child["path"])
                else:
                    total += child["size"] or 0
        if total > self.max_copy_folder_size_mb * 1024 * 1024:
            raise HTTPError(400, f"Can't copy folders larger than {self.max_copy_folder_size_mb}MB, "
                                 f'"{path}" is {total / 1024 / 1024:.2f}MB')


class RemoteCheckpoints(AsyncCheckpoints):
    """Checkpoints kept by the storage with each file: they follow renames and go with deletes.

    The storage keeps a file's whole checkpoint history; jupyter_server's contents API shows, as
    its file manager does, one checkpoint per file: the newest, with the id "checkpoint" (restore
    brings it back, delete clears the history). A history entry's own numeric id restores that
    one."""

    @property
    def storage(self) -> StorageClient:
        manager = self.parent
        assert isinstance(manager, RemoteContentsManager), "RemoteCheckpoints needs a RemoteContentsManager"
        return manager.storage

    async def create_checkpoint(self, contents_mgr: Any, path: str) -> dict[str, Any]:
        return _checkpoint((await self.storage.call("POST", "checkpoints", path.strip("/"))).json())

    async def restore_checkpoint(self, contents_mgr: Any, checkpoint_id: str, path: str) -> None:
        stored = "latest" if checkpoint_id == LATEST else checkpoint_id
        await self.storage.call("POST", "restore", path.strip("/"), params={"checkpoint": stored})

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        history = (await self.storage.call("GET", "checkpoints", path.strip("/"))).json()
        return [_checkpoint(history[0])] if history else []

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        stored = "all" if checkpoint_id == LATEST else checkpoint_id
        await self.storage.call("DELETE", "checkpoints", path.strip("/"), params={"checkpoint": stored})

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        pass  # checkpoints belong to the file and move with it

    async def rename_all_checkpoints(self, old_path: str, new_path: str) -> None:
        pass

    async def delete_all_checkpoints(self, path: str) -> None:
        pass  # deleting the file deletes its checkpoints


LATEST = "checkpoint"  # the id jupyter_server's file checkpoints use for their one checkpoint


def notebook_text(nb: NotebookNode, validation_error: dict[str, Any]) -> str:
    """``nbformat.writes(nb, NO_CONVERT)`` without its defensive deep copy, which costs a tenth of a
    save: ``nb`` is the save's own from_dict copy, dropped afterwards. The same validation (a failure
    is captured in ``validation_error``) and the same text (tests/unit/storage holds them equal)."""
    if nb.nbformat != 4:
        return str(nbformat.writes(nb, version=nbformat.NO_CONVERT, capture_validation_error=validation_error))
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        get_logger().error("Notebook JSON is invalid: %s", error)
        validation_error["ValidationError"] = error
    return json.dumps(strip_transient(split_lines(nb)), cls=BytesEncoder, indent=1, sort_keys=True,
                      separators=(",", ": "), ensure_ascii=False)


def notebook_from_text(text: str, validation_error: dict[str, Any]) -> NotebookNode:
    """``nbformat.reads(text, as_version=4)`` with the parser building the NotebookNodes: nbformat
    parses to plain dicts and then copies them all in ``from_dict``, a third of reading a big notebook.
    The same notebook and the same validation (tests/unit/storage holds them equal)."""
    nb: NotebookNode = json.loads(text, object_hook=NotebookNode)
    try:
        if not isinstance(nb, NotebookNode) or nb.get("nbformat") != 4:
            raise AttributeError("not nbformat 4")
        nb = strip_transient(rejoin_lines(nb))
    except AttributeError:  # other versions, and nbformat's own error for a missing key
        nb = nbformat.reads(text, as_version=4, capture_validation_error=validation_error)
        return nb
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        get_logger().error("Notebook JSON is invalid: %s", error)
        validation_error["ValidationError"] = error
    return nb


def _checkpoint(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": LATEST, "last_modified": _time(data["last_modified"])}


def _decode(data: bytes, format: str | None, path: str) -> tuple[str, str]:
    if format is None or format == "text":
        try:
            return data.decode("utf-8"), "text"
        except UnicodeError as exc:
            if format == "text":
                raise HTTPError(400, f"{path} is not UTF-8 encoded", reason="bad format") from exc
    return encodebytes(data).decode("ascii"), "base64"


def _encode(content: Any, format: str | None, path: str) -> bytes:
    if format not in {"text", "base64"}:
        raise HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
    try:
        return content.encode("utf8") if format == "text" else decodebytes(content.encode("ascii"))
    except Exception as exc:
        raise HTTPError(400, f"Encoding error saving {path}: {exc}") from exc


__all__ = ["RemoteCheckpoints", "RemoteContentsManager"]


class MountedFolder:
    """One real directory inside the namespace, served by jupyter_server's own file manager."""

    def __init__(self, mount: Mount, parent: RemoteContentsManager):
        self.mount = mount
        root = mount.root_for(parent.username)
        try:
            if not mount.read_only:
                os.makedirs(root, exist_ok=True)
            os.listdir(root)
        except OSError as error:  # every listing of the files would otherwise fail with "Unhandled error"
            raise HTTPError(500, f"The mounted folder {mount.name}/ ({root}, storage.mounts) cannot be used by "
                                 f"this server: {error.strerror}. An administrator must make it exist and be "
                                 "readable (writable unless ':ro') by the members' servers.") from None
        self.manager = AsyncLargeFileManager(root_dir=root, parent=parent, allow_hidden=parent.allow_hidden)

    def outer(self, model: dict[str, Any]) -> dict[str, Any]:
        """A model of the mounted manager with paths as the namespace sees them."""
        model["path"] = f"{self.mount.name}/{model['path']}".rstrip("/")
        if model["path"] == self.mount.name:
            model["name"] = self.mount.name
        if model.get("type") == "directory" and isinstance(model.get("content"), list):
            model["content"] = [self.outer(child) for child in model["content"]]
        if self.mount.read_only:
            model["writable"] = False
        return model

    def refuse_writes(self, path: str) -> None:
        if self.mount.read_only:
            raise HTTPError(403, f"{self.mount.name}/ is a read-only folder; save your work elsewhere "
                                 f"(it cannot change {path}).")
