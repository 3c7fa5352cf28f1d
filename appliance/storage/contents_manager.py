"""RemoteContentsManager: jupyter_server's contents API on the appliance's storage API.

The member's notebook storage in their server: every path but those in the folders of storage.mounts,
which the routing manager (routing.py, what servers are configured with) sends elsewhere. It holds no
database credentials, only a storage token for its one member, and talks to the portal's storage API
over a kept-alive HTTP connection (api_client.py). Models are built here exactly as jupyter_server's
file manager builds them (notebook validation, trust, formats, hidden files, copy names); the bytes
live remotely.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import os
from base64 import decodebytes, encodebytes
from datetime import datetime, timezone
from typing import Any

import nbformat
from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from jupyter_server.services.contents.manager import AsyncContentsManager, copy_pat
from nbformat import NotebookNode
from nbformat.sign import NotebookNotary
from tornado.web import HTTPError
from traitlets import Bool, Float, Int, Unicode, default

from appliance.storage.api_client import StorageClient, refuse_outside
from appliance.storage.files_handler import StoredFilesHandler
from appliance.storage.notebook_text import notebook_from_text, notebook_text
from appliance.storage.renewal import StorageToken

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else EPOCH


class EnvUnicode(Unicode[str, "str | bytes"]):
    """A string setting that defaults to an environment variable's value (the hub's spawner sets them),
    read when the setting is first used rather than at import."""

    def __init__(self, variable: str, help: str):
        super().__init__(config=True, help=f"{help} Defaults to ${variable}.")
        self.variable = variable

    def default(self, obj: Any = None) -> str:
        return os.environ.get(self.variable, "")


def is_hidden_path(path: str) -> bool:
    """Whether any part of ``path`` starts with a dot: the contents API's hidden files."""
    return any(part.startswith(".") for part in path.split("/") if part)


class RemoteContentsManager(AsyncContentsManager):
    """Notebooks and files in the appliance's storage (PostgreSQL), reached over its HTTP API."""

    storage_url = EnvUnicode("APPLIANCE_STORAGE_URL", "Base URL of the appliance's storage API, e.g. "
                             "http://127.0.0.1:8000/api/storage/v1.")
    storage_token = EnvUnicode("APPLIANCE_STORAGE_TOKEN", "Storage token naming this server's member (the hub "
                               "issues it at spawn).")
    storage_renew_url = EnvUnicode("APPLIANCE_STORAGE_RENEW_URL", "Where the storage token is renewed before it "
                                   "expires (the hub's API; empty: never).")
    hub_api_token = EnvUnicode("JUPYTERHUB_API_TOKEN", "This server's own JupyterHub API token, which renews the "
                               "storage token.")
    storage_timeout = Float(120.0, config=True, help="Seconds one storage call may take.")
    hash_algorithm = Unicode("sha256", help="The storage keeps SHA-256 digests; no other algorithm.")
    max_copy_folder_size_mb = Int(500, config=True, help="Largest directory, in MB, that may be copied.")
    delete_to_trash = Bool(True, config=True, help="As the file manager's: with always_delete_dir, whether a "
                           "non-empty directory may be deleted (there is no trash; deleted is deleted).")
    always_delete_dir = Bool(False, config=True, help="Allow deleting non-empty directories even when "
                             "delete_to_trash is off.")
    # Names at the top of the namespace that are not the storage's (the routing manager's mounted
    # folders): new files are not given them.
    reserved_names: frozenset[str] = frozenset()

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

    async def aclose(self) -> None:
        """Close the kept-alive connections to the storage (the server's shutdown, tests)."""
        client: StorageClient | None = getattr(self, "_storage_client", None)
        if client is not None:
            await client.aclose()

    def info_string(self) -> str:
        return f"Serving notebooks from the appliance's storage at {self.storage_url}"

    # ----- existence -------------------------------------------------------------------------------------

    async def dir_exists(self, path: str) -> bool:
        entry = await self.storage.entry(path.strip("/"))
        return entry is not None and entry["type"] == "directory"

    async def file_exists(self, path: str = "") -> bool:
        entry = await self.storage.entry(path.strip("/"))
        return entry is not None and entry["type"] == "file"

    async def exists(self, path: str) -> bool:
        return await self.storage.entry(path.strip("/")) is not None

    async def increment_filename(self, filename: str, path: str = "", insert: str = "") -> str:
        """jupyter_server's unique name (Untitled.ipynb, Untitled1.ipynb, …), found from one listing of the
        directory instead of one storage call per name taken (a member with thirty Untitled notebooks
        waited for thirty-one before a new one opened)."""
        path = path.strip("/")
        try:
            listing = (await self.storage.call("GET", "list", path)).json()
        except HTTPError as error:
            if error.status_code != 404:
                raise
            listing = {"entries": []}
        taken = {entry["name"] for entry in listing.get("entries", [])}
        if path == "":
            taken |= self.reserved_names
        basename, dot, ext = filename.rpartition(".")
        if ext != "ipynb":
            basename, dot, ext = filename.partition(".")
        return next(name for name in (f"{basename}{f'{insert}{i}' if i else ''}{dot}{ext}" for i in itertools.count())
                    if name not in taken)

    async def is_hidden(self, path: str) -> bool:
        return is_hidden_path(path.strip("/"))

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

    def refuse_hidden(self, path: str) -> None:
        """404 for a hidden path unless hidden files are allowed, as the file manager answers."""
        if not self.allow_hidden and is_hidden_path(path):
            self.log.info("Refusing to serve hidden file or directory %r, via 404 Error", path)
            raise HTTPError(404, f"file or directory does not exist: {path!r}")

    async def get(self, path: str, content: bool = True, type: str | None = None, format: str | None = None,
                  require_hash: bool = False) -> dict[str, Any]:
        """One storage call: the entry alone, or with its bytes (a file) or its entries (a directory)."""
        path = path.strip("/")
        refuse_outside(path)
        self.refuse_hidden(path)
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
        refuse_outside(path)
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
            if not self.allow_hidden and is_hidden_path(path):
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
        if not self.allow_hidden and is_hidden_path(path):
            raise HTTPError(400, f"Cannot create hidden file {path!r}")
        params = {"checkpoint": "if-none"} if first_checkpoint else {}
        if trusted:
            params["trusted"] = "yes"
        entry: dict[str, Any] = (await self.storage.call("PUT", "write", path, params=params, content=data)).json()
        return entry

    async def trust_notebook(self, path: str) -> None:
        """Trust the notebook as it is now: kept in the storage with its bytes."""
        path = path.strip("/")
        refuse_outside(path)
        self.log.warning("Trusting notebook %s", path)
        await self.storage.call("POST", "trust", path)

    async def delete_file(self, path: str) -> None:
        path = path.strip("/")
        refuse_outside(path)
        if not self.allow_hidden and is_hidden_path(path):
            raise HTTPError(400, f"Cannot delete file or directory {path!r}")
        entry = await self.storage.entry(path)
        if entry is None:
            raise HTTPError(404, f"File or directory does not exist: {path}")
        refuse_non_empty = entry["type"] == "directory" and not self.always_delete_dir and not self.delete_to_trash
        if refuse_non_empty and (await self.storage.call("GET", "list", path)).json()["entries"]:
            raise HTTPError(400, f"Directory {path} not empty")
        await self.storage.call("DELETE", "delete", path)

    def rename_paths(self, old_path: str, new_path: str) -> tuple[str, str] | None:
        """A rename's two paths without their slashes, or None where they are the same path; 404 for a path
        out of the namespace and 400 for a hidden one (unless allowed), as the file manager answers."""
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        refuse_outside(old_path, new_path)
        if new_path == old_path:
            return None
        if not self.allow_hidden and (is_hidden_path(old_path) or is_hidden_path(new_path)):
            raise HTTPError(400, f"Cannot rename file or directory {old_path!r}")
        return old_path, new_path

    async def rename_file(self, old_path: str, new_path: str) -> None:
        if (paths := self.rename_paths(old_path, new_path)) is None:
            return
        old_path, new_path = paths
        try:
            await self.storage.call("POST", "rename", old_path, params={"to": new_path})
        except HTTPError as error:
            if error.status_code == 404 and await self.storage.entry(old_path) is None:
                raise HTTPError(404, f"File or directory does not exist: {old_path}") from None
            raise

    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        """Copy a file or a directory on the server side, named as jupyter_server names copies."""
        path = from_path.strip("/")
        from_dir, from_name = path.rsplit("/", 1) if "/" in path else ("", path)
        source = await self.storage.entry(path)
        if source is None:
            raise HTTPError(404, f"No such file or directory: {path}")
        self.refuse_hidden(path)
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


__all__ = ["EnvUnicode", "RemoteCheckpoints", "RemoteContentsManager", "is_hidden_path"]
