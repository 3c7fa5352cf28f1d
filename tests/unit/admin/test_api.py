"""The admin router: the OpenAPI document is built from the declared routes, and every route is guarded."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from appliance.admin.api import OPENAPI_PATH, PREFIX, AdminAPI, ApiRoute, Param, json_body
from appliance.admin.guard import Admin, AdminGuard
from appliance.identity.csrf import CsrfSigner
from appliance.identity.sessions import Session
from tests.unit.admin.test_guard import ORIGIN, SESSIONS, csrf, token_of


async def session_of(request: Request) -> Session | None:
    return SESSIONS.get(request.cookies.get("appliance_session", ""))


async def echo(request: Request, admin: Admin) -> Response:
    body = await json_body(request) if request.method != "GET" else {}
    return JSONResponse({"path": dict(request.path_params), "body": body, "by": admin.username})


ROUTES = [
    ApiRoute("GET", "/people", echo, "Search people", "people", query=[Param("q", "text")]),
    ApiRoute("GET", "/people/{username}", echo, "A person", "people"),
    ApiRoute("PUT", "/people/{username}/groups", echo, "Set groups", "people",
             body={"type": "object", "properties": {"groups": {"type": "array"}}}),
]


def console(*route_lists: list[ApiRoute]) -> Starlette:
    api = AdminAPI(AdminGuard(session_of, token_of, CsrfSigner("test-secret")), route_lists or [ROUTES], "1.0")
    return Starlette(routes=api.routes())


def client(cookie: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(console()), base_url=ORIGIN, headers={"origin": ORIGIN},
                             cookies={"appliance_session": cookie})


async def test_the_document_lists_every_declared_route_with_its_parameters_body_and_errors() -> None:
    async with client("ada-cookie") as http:
        document = (await http.get(OPENAPI_PATH)).json()
    assert document["openapi"] == "3.1.0" and set(document["paths"]) == {
        f"{PREFIX}/people", f"{PREFIX}/people/{{username}}", f"{PREFIX}/people/{{username}}/groups"}
    search = document["paths"][f"{PREFIX}/people"]["get"]
    assert search["summary"] == "Search people" and search["parameters"][0]["name"] == "q"
    groups = document["paths"][f"{PREFIX}/people/{{username}}/groups"]["put"]
    assert groups["parameters"][0] == {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
    assert groups["requestBody"]["content"]["application/json"]["schema"]["properties"]["groups"]
    assert {"401", "403"} <= set(groups["responses"])


async def test_the_document_and_the_routes_are_for_admins_only() -> None:
    async with client("bob-cookie") as http:
        for path in (OPENAPI_PATH, f"{PREFIX}/people", f"{PREFIX}/people/ada"):
            assert (await http.get(path)).status_code == 403, path
    async with client("ada-cookie") as http:
        answer = await http.put(f"{PREFIX}/people/ada/groups", json={"groups": ["x"]},
                                headers={"X-CSRF-Token": csrf(b"ada-digest")})
        assert answer.json() == {"path": {"username": "ada"}, "body": {"groups": ["x"]}, "by": "ada"}
        bad = await http.put(f"{PREFIX}/people/ada/groups", content=b"[1",
                             headers={"X-CSRF-Token": csrf(b"ada-digest")})
        assert bad.status_code == 400 and "not JSON" in bad.json()["error"]


def test_a_route_declared_twice_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="GET /api/admin/v1/people/{name} is declared twice"):
        console(ROUTES, [ApiRoute("GET", "/people/{name}", echo, "Again", "people")])
