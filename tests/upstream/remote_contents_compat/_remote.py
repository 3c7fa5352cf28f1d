"""Synchronous access to a remote namespace, for the helpers that upstream calls synchronously.

Upstream calls ``_make_dir(cm, path)``, ``_make_big_dir(...)``, ``_check_created(...)`` and
``contents_dir.joinpath(...).write_text(...)`` *synchronously from inside a running event loop*
(the test coroutine), so these helpers cannot ``await``. Each call therefore runs on a private
event loop in a worker thread, with its own short-lived RemoteContentsManager (same URL and
token, ``allow_hidden=True`` so that fixtures may create ``.hidden`` entries, as upstream does
with os.makedirs / pathlib). The manager is built *inside* that loop, so a loop-bound HTTP
client (httpx.AsyncClient, aiohttp, ...) never crosses loops.

Requirement this puts on the real setup: the storage API must not be served from the test's
event loop (run it in another thread or process), because the test loop is blocked while the
worker thread talks to it.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import posixpath
from pathlib import PurePosixPath

from appliance.storage.contents_manager import RemoteContentsManager

SERVER_CM = "appliance.storage.routing.RoutingContentsManager"  # what members' servers are configured with


def creds(cm) -> tuple[str, str]:
    """(storage_url, storage_token) of a RemoteContentsManager, or of the one behind a RoutingContentsManager."""
    storage = getattr(cm, "remote", cm)
    return (storage.storage_url, storage.storage_token)


def call(creds_: tuple[str, str], fn):
    """Run ``await fn(manager)`` on a fresh manager in a worker thread; return its result."""
    url, token = creds_

    async def go():
        cm = RemoteContentsManager(storage_url=url, storage_token=token, allow_hidden=True)
        try:
            return await fn(cm)
        finally:
            aclose = getattr(cm, "aclose", None)  # close the HTTP client if the manager has one
            if aclose is not None:
                await aclose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


async def _makedirs(cm, api_path: str) -> None:
    """mkdir -p through the manager; existing directories are fine (like os.makedirs + the
    upstream ``except OSError: print(...)``)."""
    parts = [p for p in api_path.strip("/").split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        if not await cm.dir_exists(sub):
            await cm.save({"type": "directory"}, sub)


def makedirs(creds_, api_path: str) -> None:
    call(creds_, lambda cm: _makedirs(cm, api_path))


def write_bytes(creds_, api_path: str, data: bytes) -> None:
    # type "file" even for *.ipynb: raw bytes, no validation/signing, no checkpoint (like a disk write)
    model = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode("ascii")}
    call(creds_, lambda cm: cm.save(model, api_path))


def write_text(creds_, api_path: str, text: str) -> None:
    call(creds_, lambda cm: cm.save({"type": "file", "format": "text", "content": text}, api_path))


def file_exists(creds_, api_path: str) -> bool:
    return call(creds_, lambda cm: cm.file_exists(api_path))


def dir_exists(creds_, api_path: str) -> bool:
    return call(creds_, lambda cm: cm.dir_exists(api_path))


class RemotePath:
    """The subset of pathlib.Path that upstream uses on ``contents_dir``, writing through the
    remote store instead of the local disk.

    Used by tests/conftest.py::contents (run unchanged) and by the test bodies of
    test_get_nb_invalid, test_get_404_hidden and test_copy_400_hidden.
    Deliberately no ``__fspath__``: os/pathlib use of a RemotePath fails loudly.
    """

    def __init__(self, creds_: tuple[str, str], api_path: str = ""):
        self._creds = creds_
        self.api_path = api_path.strip("/")

    def __truediv__(self, other) -> RemotePath:
        return RemotePath(self._creds, posixpath.join(self.api_path, str(other)))

    def joinpath(self, *others) -> RemotePath:
        out = self
        for o in others:
            out = out / o
        return out

    @property
    def name(self) -> str:
        return posixpath.basename(self.api_path)

    def mkdir(self, mode=0o777, parents=False, exist_ok=False) -> None:
        if not parents and not dir_exists(self._creds, posixpath.dirname(self.api_path)):
            raise FileNotFoundError(self.api_path)
        if not exist_ok and dir_exists(self._creds, self.api_path):
            raise FileExistsError(self.api_path)
        makedirs(self._creds, self.api_path)

    def write_text(self, data: str, encoding=None, errors=None, newline=None) -> int:
        write_text(self._creds, self.api_path, data)
        return len(data)

    def write_bytes(self, data: bytes) -> int:
        write_bytes(self._creds, self.api_path, data)
        return len(data)

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        return PurePosixPath(self.api_path).relative_to(PurePosixPath(other.api_path or "."))

    def __str__(self) -> str:
        # Not a local path on purpose: pathlib.Path(str(p)).is_file() must not pass by accident.
        return f"remote:/{self.api_path}"

    __repr__ = __str__
