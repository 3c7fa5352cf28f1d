"""The admin API at ``/api/admin/v1`` and its OpenAPI document, ``/api/admin/v1/openapi.json``.

Every owner of admin routes hands in a list of ApiRoute (``routes()`` of its module: people, hubs, system,
audit), each declaring its method, path, summary and the shapes of its query, body and answer. This
module is the one place that turns them into Starlette routes, every one behind ``AdminGuard.api``,
and into the OpenAPI document, so the document lists exactly what answers (the route walker test in
tests/integration/test_admin_routes.py walks it). The document itself is for admins only too.

Errors everywhere are the portal's JSON shape ``{"ok": false, "error": "<what happened, what to do>",
"status": <code>}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin, AdminGuard, Handler

PREFIX = "/api/admin/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
Schema = dict[str, Any]  # a JSON Schema (OpenAPI 3.1's dialect)

ERROR_SCHEMA: Schema = {
    "type": "object", "required": ["ok", "error", "status"],
    "properties": {"ok": {"const": False}, "error": {"type": "string", "description": "what happened and what to do"},
                   "status": {"type": "integer"}},
}
REFUSALS = {
    "400": "the request is wrong: the error says how",
    "401": "no admin session or admin token, or an unknown, revoked or expired token",
    "403": "not an admin; a read token that writes; a session's unsafe request without its CSRF token",
    "404": "no such thing",
}
PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
MAX_BODY_BYTES = 2 * 1024 * 1024  # a CSV import of 1 MB, quoted in JSON, fits


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class ApiRoute:
    """One method on one path under PREFIX: ``path`` as Starlette writes it (``/people/{username}``)."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    description: str = ""
    query: Sequence[Param] = ()
    body: Schema | None = None  # the JSON body's schema; None when it takes none
    response: Schema = field(default_factory=lambda: {"type": "object"})
    status: int = 200
    content_type: str = "application/json"  # of the answer (text/csv for exports)


def openapi_path(path: str) -> str:
    return PATH_PARAMETER.sub(r"{\1}", path)


def operation(route: ApiRoute) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in PATH_PARAMETER.findall(route.path)]
    parameters += [{"name": param.name, "in": "query", "required": param.required, "description": param.description,
                    "schema": param.schema} for param in route.query]
    answer = {"description": route.summary, "content": {route.content_type: {"schema": route.response}}}
    errors = {code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/"
                                                                                      "schemas/Error"}}}}
              for code, text in REFUSALS.items()}
    found: dict[str, Any] = {
        "summary": route.summary, "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path.lower()).strip('_')}",
        "parameters": parameters, "responses": {str(route.status): answer, **errors},
    }
    if route.description:
        found["description"] = route.description
    if route.body is not None:
        found["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    return found


def openapi_document(routes: Iterable[ApiRoute], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(PREFIX + openapi_path(route.path), {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Appliance admin API", "version": version, "description": (
            "The lab's administration: people, hubs, the system and the audit log. The console and the "
            "`appliance` command call the same functions. Sign in to the portal as an administrator (every "
            "unsafe method then needs the session's CSRF token in X-CSRF-Token), or send an admin token "
            "(appliance users admin-token create) as Authorization: Bearer. Errors are "
            '{"ok": false, "error", "status"}.')},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "appliance_session"},
                                "adminToken": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"session": []}, {"adminToken": []}],
    }


class AdminAPI:
    def __init__(self, guard: AdminGuard, route_lists: Iterable[Sequence[ApiRoute]], version: str):
        """``route_lists``: each owner's ``routes()``; a method declared twice on one path is refused."""
        self.guard = guard
        self.declared: list[ApiRoute] = []
        seen: set[tuple[str, str]] = set()
        for route in (route for routes in route_lists for route in routes):
            key = (route.method.upper(), PATH_PARAMETER.sub("{}", route.path))  # /a/{x} and /a/{y} are one
            if key in seen:
                raise ValueError(f"the admin API route {key[0]} {PREFIX}{route.path} is declared twice")
            seen.add(key)
            self.declared.append(route)
        self.document = openapi_document(self.declared, version)

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, Handler]] = {}
        for route in self.declared:
            by_path.setdefault(route.path, {})[route.method.upper()] = route.handler
        found = [Route(OPENAPI_PATH, self.guard.api(self.openapi), methods=["GET"], name="admin_openapi")]
        for path, handlers in by_path.items():
            found.append(Route(PREFIX + path, self.guard.api(dispatch(handlers)), methods=list(handlers)))
        return found

    async def openapi(self, request: Request, admin: Admin) -> Response:
        return JSONResponse(self.document)


def dispatch(handlers: dict[str, Handler]) -> Handler:
    """One handler for a path's methods (Starlette answers 405 for the others before the guard runs)."""
    async def handler(request: Request, admin: Admin) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request, admin)

    return handler


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or AdminError (400, 413) saying what is wrong with it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise AdminError(f"the body is larger than {MAX_BODY_BYTES // 1024} KB.", status=413)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise AdminError(f"the body is larger than {MAX_BODY_BYTES // 1024} KB.", status=413)
    try:
        data = json.loads(body or b"{}")
    except ValueError as error:
        raise AdminError(f"the body is not JSON ({error}); send a JSON object, Content-Type: application/json.") \
            from None
    if not isinstance(data, dict):
        raise AdminError("the body must be a JSON object.")
    return data
