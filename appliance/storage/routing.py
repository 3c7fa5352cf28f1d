"""RoutingContentsManager: the contents manager members' servers run (``ServerApp.contents_manager_class``).

A member's files are their notebook storage (RemoteContentsManager) with, in hybrid mode, the folders of
storage.mounts standing at its top: real directories on the server's machine (a shared read-only
datasets/, a scratch/ of each member's own), served by jupyter_server's own file manager. Each call is
routed once, by its path's first part, to the manager that holds the path, with the path as that manager
knows it; models coming back from a folder get their paths as the namespace shows them. Each manager
keeps its own checkpoints (the storage's, or .ipynb_checkpoints in the folder).

What only the router can decide: the folders are listed at the top and no stored file takes their names;
a folder cannot be deleted or renamed; nothing moves across a folder's edge (a copy across goes through
get and save, files only); a read-only folder refuses every change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado.web import HTTPError
from traitlets import Instance, default, link

from appliance.storage.api_client import refuse_outside
from appliance.storage.contents_manager import EnvUnicode, RemoteContentsManager, is_hidden_path
from appliance.storage.files_handler import StoredFilesHandler
from appliance.storage.mounts import Mount, parse_mounts


class MountedFolder:
    """One real directory inside the namespace, served by jupyter_server's own file manager."""

    def __init__(self, mount: Mount, username: str, parent: AsyncContentsManager):
        self.mount = mount
        root = mount.root_for(username)
        try:
            if not mount.read_only:
                os.makedirs(root, exist_ok=True)
            os.listdir(root)
        except OSError as error:  # every listing of the files would otherwise fail with "Unhandled error"
            raise HTTPError(500, f"The mounted folder {mount.name}/ ({root}, storage.mounts) cannot be used by "
                                 f"this server: {error.strerror}. An administrator must make it exist and be "
                                 "readable (writable unless ':ro') by the members' servers.") from None
        self.manager = AsyncLargeFileManager(root_dir=root, parent=parent, allow_hidden=parent.allow_hidden)

    def outer_path(self, inner: str) -> str:
        return f"{self.mount.name}/{inner}".rstrip("/")

    def outer(self, model: dict[str, Any]) -> dict[str, Any]:
        """A model of the mounted manager with paths as the namespace sees them."""
        model["path"] = self.outer_path(model["path"])
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


@dataclass(frozen=True)
class Route:
    """Where a path of the namespace lives: the manager holding it, the path there, and the mounted
    folder it is in (None: the storage)."""

    manager: AsyncContentsManager
    path: str
    folder: MountedFolder | None = None

    @property
    def is_mount_point(self) -> bool:
        """The path is a mounted folder itself (it always exists, and cannot be deleted or moved)."""
        return self.folder is not None and self.path == ""

    def outer(self, model: dict[str, Any]) -> dict[str, Any]:
        return self.folder.outer(model) if self.folder else model

    def outer_path(self, path: str) -> str:
        return self.folder.outer_path(path) if self.folder else path

    def refuse_writes(self, path: str) -> None:
        if self.folder:
            self.folder.refuse_writes(path)


class RoutingContentsManager(AsyncContentsManager):
    """The member's notebook storage and the mounted folders as one namespace: each call goes to the one
    manager that holds its path. Calls go through ensure_async, as jupyter_server's own handlers make them:
    the file manager's ``exists`` is synchronous, even in its async class."""

    remote = Instance(RemoteContentsManager, help="The member's notebook storage: every path outside the "
                      "mounted folders. Configured as RemoteContentsManager (storage_url, storage_token, …).")
    mounts = EnvUnicode("APPLIANCE_STORAGE_MOUNTS", "Hybrid mode: real directories shown in the namespace, "
                        "'NAME=PATH[:ro], …' (see the appliance's storage.mounts).")
    username = EnvUnicode("JUPYTERHUB_USER", "The member, for {username} in mounts.")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # The server's handlers ask this manager whether hidden files are allowed; the storage answers alike.
        link((self, "allow_hidden"), (self.remote, "allow_hidden"))

    @default("remote")
    def _remote_default(self) -> RemoteContentsManager:
        return RemoteContentsManager(parent=self, log=self.log)

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type:
        return StoredFilesHandler

    @property
    def folders(self) -> dict[str, MountedFolder]:
        """The mounted folders by name, set up on first use: a folder the server cannot use fails the
        requests that need it, with what to do, not the server's start."""
        folders: dict[str, MountedFolder] | None = getattr(self, "_folders", None)
        if folders is None:
            folders = {m.name: MountedFolder(m, self.username, self) for m in parse_mounts(self.mounts)}
            self._folders = folders
            self.remote.reserved_names = frozenset(folders)
        return folders

    def route(self, path: str) -> Route:
        head, _, rest = path.strip("/").partition("/")
        folder = self.folders.get(head)
        return Route(folder.manager, rest, folder) if folder is not None else Route(self.remote, path.strip("/"))

    async def aclose(self) -> None:
        """Close the kept-alive connections to the storage (the server's shutdown, tests)."""
        await self.remote.aclose()

    def info_string(self) -> str:
        return self.remote.info_string()

    # ----- existence and names ------------------------------------------------------------------------------

    async def dir_exists(self, path: str) -> bool:
        where = self.route(path)
        return where.is_mount_point or bool(await ensure_async(where.manager.dir_exists(where.path)))

    async def file_exists(self, path: str = "") -> bool:
        where = self.route(path)
        return bool(await ensure_async(where.manager.file_exists(where.path)))

    async def exists(self, path: str) -> bool:
        where = self.route(path)
        return where.is_mount_point or bool(await ensure_async(where.manager.exists(where.path)))

    async def is_hidden(self, path: str) -> bool:
        return is_hidden_path(path.strip("/"))

    async def increment_filename(self, filename: str, path: str = "", insert: str = "") -> str:
        where = self.route(path)
        return str(await ensure_async(where.manager.increment_filename(filename, where.path, insert)))

    async def get_kernel_path(self, path: str, model: Any = None) -> str:
        where = self.route(path)
        return where.outer_path(str(await ensure_async(where.manager.get_kernel_path(where.path, model))))

    # ----- reading and writing ------------------------------------------------------------------------------

    async def get(self, path: str, content: bool = True, type: str | None = None, format: str | None = None,
                  require_hash: bool = False) -> dict[str, Any]:
        path = path.strip("/")
        refuse_outside(path)
        self.remote.refuse_hidden(path)  # the storage's rule and message, in the mounted folders too
        where = self.route(path)
        model = where.outer(await ensure_async(where.manager.get(where.path, content, type, format, require_hash)))
        if path == "" and content:
            model["content"] = await self._with_folders(model["content"])
        return model

    async def _with_folders(self, listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The root's listing with the mounted folders standing at the top, over stored entries of their names."""
        mounted = [folder.outer(await ensure_async(folder.manager.get("", content=False)))
                   for folder in self.folders.values()]
        return [model for model in listing if model["name"] not in self.folders] + mounted

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        path = path.strip("/")
        refuse_outside(path)
        where = self.route(path)
        where.refuse_writes(path)
        return where.outer(await ensure_async(where.manager.save(model, where.path)))

    async def trust_notebook(self, path: str) -> None:
        path = path.strip("/")
        refuse_outside(path)
        where = self.route(path)
        await ensure_async(where.manager.trust_notebook(where.path))

    async def delete(self, path: str) -> None:
        """Delete with the holding manager's ``delete``: it deletes the checkpoints it keeps, too."""
        path = path.strip("/")
        refuse_outside(path)
        where = self.route(path)
        if where.is_mount_point:
            raise HTTPError(400, f"{path}/ is a mounted folder; it cannot be deleted.")
        where.refuse_writes(path)
        await ensure_async(where.manager.delete(where.path))

    async def rename(self, old_path: str, new_path: str) -> None:
        """Rename within one manager, which moves the checkpoints it keeps, too; never across a folder's edge."""
        if (paths := self.remote.rename_paths(old_path, new_path)) is None:  # the storage's rules, in folders too
            return
        old_path, new_path = paths
        old, new = self.route(old_path), self.route(new_path)
        _refuse_moving_folders(old_path, new_path, old, new)
        old.refuse_writes(old_path)
        await ensure_async(old.manager.rename(old.path, new.path))

    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        if self.route(from_path).folder or (to_path is not None and self.route(to_path).folder):
            # from, into or within a mounted folder: jupyter_server's own copy, through get and save (files only)
            copied: dict[str, Any] = await super().copy(from_path, to_path)
            return copied
        return await self.remote.copy(from_path, to_path)

    # ----- checkpoints: each manager's own ------------------------------------------------------------------

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        where = self.route(path)
        return dict(await ensure_async(where.manager.create_checkpoint(where.path)))

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        where = self.route(path)
        return list(await ensure_async(where.manager.list_checkpoints(where.path)))

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        where = self.route(path)
        where.refuse_writes(path)
        await ensure_async(where.manager.restore_checkpoint(checkpoint_id, where.path))

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        where = self.route(path)
        await ensure_async(where.manager.delete_checkpoint(checkpoint_id, where.path))


def _refuse_moving_folders(old_path: str, new_path: str, old: Route, new: Route) -> None:
    """A mounted folder stays where it is mounted, and nothing moves across its edge (a move across would
    be a copy and then a delete, not one step)."""
    for where in (old, new):
        if where.is_mount_point and where.folder:
            raise HTTPError(400, f"{where.folder.mount.name}/ is a mounted folder; it cannot be renamed.")
    crossed = new.folder or old.folder
    if old.folder is not new.folder and crossed:
        raise HTTPError(400, f"Cannot move {old_path} to {new_path}: {crossed.mount.name}/ is a folder on this "
                             "machine, not your notebook storage. Copy it instead, then delete the original.")


__all__ = ["MountedFolder", "RoutingContentsManager"]
