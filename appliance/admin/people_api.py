"""People in the admin API: the routes (``routes()``), each calling one People function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from appliance.admin import csv_import
from appliance.admin.api import ApiRoute, Param, Schema, json_body
from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin
from appliance.admin.people import HOW, NewPerson, People
from appliance.admin.person import PersonFacts
from appliance.identity.directory import MAX_LIMIT, SORT_KEYS, STATES, AccountQuery

PERSON: Schema = {"type": "object", "properties": {
    "username": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
    "groups": {"type": "array", "items": {"type": "string"}}, "admin": {"type": "boolean"},
    "disabled": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
    "last_login_at": {"type": ["string", "null"], "format": "date-time"}}}
ACCESS: Schema = {"type": "object", "properties": {
    "person": PERSON, "password": {"type": ["string", "null"], "description": "shown this once"},
    "link": {"type": ["string", "null"], "description": "a one-time sign-up link"},
    "link_expires_in_days": {"type": ["integer", "null"]}}}
HOW_SCHEMA: Schema = {"enum": list(HOW), "default": "password",
                      "description": "password: generated and shown once; link: a one-time sign-up link"}
NEW_PERSON: Schema = {"type": "object", "required": ["username"], "properties": {
    "username": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
    "groups": {"type": "array", "items": {"type": "string"}}, "admin": {"type": "boolean"}, "how": HOW_SCHEMA}}
PAGE: Schema = {"type": "object", "properties": {
    "people": {"type": "array", "items": PERSON},
    "next": {"type": ["string", "null"], "description": "pass as `after` for the next page; null on the last"}}}
SEARCH = [
    Param("q", "a part of the username, name or email, any case"),
    Param("sort", "the order", {"enum": list(SORT_KEYS), "default": "username"}),
    Param("order", "ascending or descending", {"enum": ["asc", "desc"], "default": "asc"}),
    Param("state", "only these", {"enum": list(STATES), "default": "all"}),
    Param("group", "only members of this group"),
    Param("after", "the `next` of the page before"),
    Param("limit", f"people per page, 1 to {MAX_LIMIT}", {"type": "integer", "default": 50}),
]


def query_of(request: Request) -> AccountQuery:
    params = request.query_params
    limit = params.get("limit", "50")
    if not limit.isdigit():
        raise AdminError(f"limit must be a number of people per page, 1 to {MAX_LIMIT}, not {limit!r}.")
    return AccountQuery(text=params.get("q", "")[:200], sort=params.get("sort", "username"),
                        descending=params.get("order", "asc") == "desc", state=params.get("state", "all"),
                        group=params.get("group", ""), after=params.get("after", ""), limit=int(limit))


class PeopleAPI:
    def __init__(self, people: People, facts: PersonFacts):
        self.people = people
        self.facts = facts

    def routes(self) -> list[ApiRoute]:
        one = "/people/{username}"
        return [
            ApiRoute("GET", "/people", self.search, "Search and page through people", "people", query=SEARCH,
                     response=PAGE, description="Keyset pages: pass the answer's `next` as `after`."),
            ApiRoute("POST", "/people", self.create, "Create a person", "people", body=NEW_PERSON, response=ACCESS,
                     status=201),
            ApiRoute("POST", "/people/import", self.import_csv, "Import people from CSV (preview, then apply)",
                     "people", body={"type": "object", "required": ["csv"], "properties": {
                         "csv": {"type": "string", "description": "header row: username,name,email,groups,admin"},
                         "apply": {"type": "boolean", "default": False,
                                   "description": "false: check every row, create nothing"},
                         "how": {**HOW_SCHEMA, "default": "link"}}}),
            ApiRoute("GET", "/groups", self.groups, "Groups in use, with their member counts", "people"),
            ApiRoute("GET", one, self.person, "A person: account, hub, server, storage, publications", "people"),
            ApiRoute("POST", f"{one}/disable", self.disable, "Disable: end sessions and tokens, stop the server",
                     "people", response=PERSON),
            ApiRoute("POST", f"{one}/enable", self.enable, "Enable a disabled person", "people", response=PERSON),
            ApiRoute("POST", f"{one}/password", self.reset_password, "Reset the password (shown once) or send a "
                     "sign-up link", "people", body={"type": "object", "properties": {"how": HOW_SCHEMA}},
                     response=ACCESS),
            ApiRoute("PUT", f"{one}/admin", self.set_admin, "Grant or take the administrator role", "people",
                     body={"type": "object", "required": ["admin"], "properties": {"admin": {"type": "boolean"}}},
                     response=PERSON),
            ApiRoute("PUT", f"{one}/groups", self.set_groups, "Set the person's groups", "people",
                     body={"type": "object", "required": ["groups"],
                           "properties": {"groups": {"type": "array", "items": {"type": "string"}}}},
                     response=PERSON),
            ApiRoute("POST", f"{one}/sign-out", self.sign_out, "Sign out everywhere (portal, hubs, JupyterLab)",
                     "people", response=PERSON),
            ApiRoute("POST", f"{one}/stop-server", self.stop_server, "Stop the person's server", "people"),
            ApiRoute("POST", f"{one}/move", self.move, "Move the person to another hub (their server stops)",
                     "people", body={"type": "object", "required": ["hub"], "properties": {"hub": {"type": "string"}}}),
        ]

    async def search(self, request: Request, admin: Admin) -> Response:
        page = await run_in_threadpool(self.people.search, query_of(request))
        return JSONResponse({"people": [account.public() for account in page.accounts], "next": page.next_cursor})

    async def create(self, request: Request, admin: Admin) -> Response:
        body = await json_body(request)
        person = NewPerson(str(body.get("username", "")), str(body.get("name", "")), str(body.get("email", "")),
                           tuple(str(group) for group in body.get("groups") or ()), bool(body.get("admin", False)))
        access = await run_in_threadpool(self.people.create, admin.audit_actor, person,
                                         str(body.get("how", "password")))
        return JSONResponse(access.to_json(), status_code=201)

    async def import_csv(self, request: Request, admin: Admin) -> Response:
        body = await json_body(request)
        text, how = str(body.get("csv", "")), str(body.get("how", "link"))
        if body.get("apply"):
            report = await run_in_threadpool(csv_import.apply, self.people, admin.audit_actor, text, how)
        else:
            report = await run_in_threadpool(csv_import.plan, self.people, text)
        return JSONResponse(report.to_json())

    async def groups(self, request: Request, admin: Admin) -> Response:
        found = await run_in_threadpool(self.people.groups)
        return JSONResponse({"groups": [{"name": name, "members": count} for name, count in found]})

    async def person(self, request: Request, admin: Admin) -> Response:
        account = await run_in_threadpool(self.people.get, request.path_params["username"])
        return JSONResponse((await self.facts.view(account)).to_json())

    async def disable(self, request: Request, admin: Admin) -> Response:
        return await self._change(request, admin, self.people.disable)

    async def enable(self, request: Request, admin: Admin) -> Response:
        return await self._change(request, admin, self.people.enable)

    async def sign_out(self, request: Request, admin: Admin) -> Response:
        return await self._change(request, admin, self.people.sign_out_everywhere)

    async def reset_password(self, request: Request, admin: Admin) -> Response:
        how = str((await json_body(request)).get("how", "password"))
        access = await run_in_threadpool(self.people.reset_password, admin.audit_actor,
                                         request.path_params["username"], how)
        return JSONResponse(access.to_json())

    async def set_admin(self, request: Request, admin: Admin) -> Response:
        wanted = (await json_body(request)).get("admin")
        if not isinstance(wanted, bool):
            raise AdminError('send {"admin": true} or {"admin": false}.')
        return await self._change(request, admin, self.people.set_admin, wanted)

    async def set_groups(self, request: Request, admin: Admin) -> Response:
        groups = (await json_body(request)).get("groups")
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise AdminError('send {"groups": ["name", ...]}.')
        return await self._change(request, admin, self.people.set_groups, groups)

    async def stop_server(self, request: Request, admin: Admin) -> Response:
        account = await run_in_threadpool(self.people.get, request.path_params["username"])
        await self.facts.stop(admin.audit_actor, account)
        return JSONResponse({"ok": True, "stopping": account.username})

    async def move(self, request: Request, admin: Admin) -> Response:
        hub_id = str((await json_body(request)).get("hub", ""))
        account = await run_in_threadpool(self.people.get, request.path_params["username"])
        await self.facts.move(admin.audit_actor, account, hub_id)
        return JSONResponse({"ok": True, "username": account.username, "hub": hub_id})

    async def _change(self, request: Request, admin: Admin, change: Callable[..., Any], *args: Any) -> Response:
        account = await run_in_threadpool(change, admin.audit_actor, request.path_params["username"], *args)
        return JSONResponse(account.public())
