"""The storage API on the portal origin: a byte store with directories, one namespace per token.

    GET    /api/storage/v1/stat/{path}                  the entry (JSON)
    GET    /api/storage/v1/list/{path}                  a directory and its entries (JSON)
    GET    /api/storage/v1/read/{path}                  a file's bytes (the entry in X-Storage-Entry), or a
                                                        directory and its entries (JSON), in one call
    PUT    /api/storage/v1/write/{path}                 store the request body as the file; with
                                                        ?checkpoint=if-none, checkpoint it if it has none;
                                                        with ?trusted=yes, the notebook is trusted
    POST   /api/storage/v1/trust/{path}                 trust the notebook as it is now
    PUT    /api/storage/v1/mkdir/{path}                 create a directory
    DELETE /api/storage/v1/delete/{path}                delete a file or a whole directory
    POST   /api/storage/v1/rename/{path}?to=NEW         move a file or a whole directory
    POST   /api/storage/v1/copy/{path}?to=NEW           copy a file or a whole directory
    GET    /api/storage/v1/checkpoints/{path}           the file's checkpoint history, newest first
    POST   /api/storage/v1/checkpoints/{path}           create one
    POST   /api/storage/v1/restore/{path}?checkpoint=ID restore one (ID "latest": the newest)
    DELETE /api/storage/v1/checkpoints/{path}?checkpoint=ID  delete one (ID "all": the whole history)

Every call carries ``Authorization: Bearer <storage token>``; errors use the portal's JSON shape.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.audit import Actor, FloodGate, Record, no_record
from appliance.storage.errors import BadPath, StorageError, Unauthorized
from appliance.storage.store import FileStore
from appliance.storage.tokens import StandingCheck, StorageTokens
from appliance.web import json_error

PREFIX = "/api/storage/v1"
Handler = Callable[[Request, str, str], Awaitable[Response]]


# seconds from a member's server's call to its answer, refusals and errors included (buckets from 5 ms to 10 s)
OPERATION_SECONDS = Histogram("appliance_storage_operation_seconds", "Time of the storage API's calls (members' "
                              "servers reading and saving), by operation and HTTP method.", ["operation", "method"],
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

class StorageAPI:
    def __init__(self, store: FileStore, tokens: StorageTokens, standing: StandingCheck | None,
                 record: Record = no_record):
        """``standing``: the check against members' current state; None only where the API is never served.
        ``record``: the audit log's, for refused tokens (at most 30 a minute from one address are kept)."""
        self.store = store
        self.tokens = tokens
        self.standing = standing
        self.record_refusal = FloodGate(record)

    def routes(self) -> list[Route]:
        endpoints: list[tuple[str, str, Handler]] = [
            ("GET", "stat", self.stat), ("GET", "list", self.listing), ("GET", "read", self.read),
            ("PUT", "write", self.write), ("PUT", "mkdir", self.mkdir), ("DELETE", "delete", self.delete),
            ("POST", "rename", self.rename), ("POST", "copy", self.copy), ("POST", "trust", self.trust),
            ("GET", "checkpoints", self.list_checkpoints), ("POST", "checkpoints", self.create_checkpoint),
            ("DELETE", "checkpoints", self.delete_checkpoint), ("POST", "restore", self.restore_checkpoint),
        ]
        by_verb: dict[str, dict[str, Handler]] = {}
        for method, verb, handler in endpoints:
            by_verb.setdefault(verb, {})[method] = handler
        return [Route(f"{PREFIX}/{verb}/{{path:path}}", self._endpoint(verb, handlers), methods=list(handlers))
                for verb, handlers in by_verb.items()]

    def _endpoint(self, verb: str, handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
        timers = {method: OPERATION_SECONDS.labels(verb, method) for method in handlers}  # once, not per call

        async def endpoint(request: Request) -> Response:
            with timers[request.method].time():
                try:
                    username = await self.authenticate(request)
                    return await handlers[request.method](request, username, request.path_params["path"])
                except StorageError as error:
                    return json_error(error)

        return endpoint

    async def authenticate(self, request: Request) -> str:
        """The member the request's storage token names, checked against their standing; Unauthorized
        (401) otherwise. The gallery's publish API checks its callers with this too."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("a storage token is required (Authorization: Bearer …).")
        member = ""
        try:
            claims = self.tokens.decode(token.strip())
            member = claims.username
            if self.standing is None:
                raise Unauthorized("this storage API cannot check members' standing; it refuses every token.")
            await self.standing.check(claims)
        except Unauthorized as refused:
            self.record_refusal(Actor.of_request(member, request), "token.refused", f"storage:{member}" if member
                                else "storage", {"api": request.url.path.split("/")[2], "reason": refused.message})
            raise
        return claims.username

    # ----- handlers ---------------------------------------------------------------------------------------

    async def stat(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse((await self.store.stat(username, path)).to_json())

    async def listing(self, request: Request, username: str, path: str) -> Response:
        directory, entries = await self.store.listing(username, path)
        return JSONResponse({**directory.to_json(), "entries": [entry.to_json() for entry in entries]})

    async def read(self, request: Request, username: str, path: str) -> Response:
        entry, content, entries = await self.store.get(username, path)
        if content is None:
            return JSONResponse({**entry.to_json(), "entries": [child.to_json() for child in entries or []]})
        headers = {"X-Storage-Entry": json.dumps(entry.to_json(), ensure_ascii=True)}
        if content.deflated and "deflate" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "deflate"  # stored compressed: the client inflates it
            return Response(content.data, media_type="application/octet-stream", headers=headers)
        return Response(await content.plain(), media_type="application/octet-stream", headers=headers)

    async def write(self, request: Request, username: str, path: str) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit():
            self.store.check_size(path, int(declared))  # refuse before reading a byte of it
        data = await self._read_body(request, path)
        first_checkpoint = request.query_params.get("checkpoint") == "if-none"
        trusted = request.query_params.get("trusted") == "yes"
        return JSONResponse((await self.store.write(username, path, data, first_checkpoint, trusted)).to_json())

    async def _read_body(self, request: Request, path: str) -> bytes:
        limit = self.store.settings.max_file_size_bytes
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise self.store.too_large(path)
            chunks.append(chunk)
        return b"".join(chunks)

    async def mkdir(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse((await self.store.mkdir(username, path)).to_json())

    async def delete(self, request: Request, username: str, path: str) -> Response:
        await self.store.delete(username, path)
        return Response(status_code=204)

    async def rename(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse((await self.store.rename(username, path, _target(request))).to_json())

    async def copy(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse((await self.store.copy(username, path, _target(request))).to_json(), status_code=201)

    async def trust(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse((await self.store.trust(username, path)).to_json())

    async def list_checkpoints(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse(await self.store.list_checkpoints(username, path))

    async def create_checkpoint(self, request: Request, username: str, path: str) -> Response:
        return JSONResponse(await self.store.create_checkpoint(username, path), status_code=201)

    async def restore_checkpoint(self, request: Request, username: str, path: str) -> Response:
        entry = await self.store.restore_checkpoint(username, path, request.query_params.get("checkpoint", ""))
        return JSONResponse(entry.to_json())

    async def delete_checkpoint(self, request: Request, username: str, path: str) -> Response:
        await self.store.delete_checkpoint(username, path, request.query_params.get("checkpoint", ""))
        return Response(status_code=204)


def _target(request: Request) -> str:
    target: Any = request.query_params.get("to")
    if not target:
        raise BadPath("say where to with ?to=PATH.")
    return str(target)
