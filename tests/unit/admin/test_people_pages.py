"""The People pages render from People's answers (a stand-in holding two accounts): the table with its
search, sort and next-page link, a person with their server, storage and publications, a new person's
password shown once, an import's preview with its bad row; members get 403."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import httpx
from appliance.webui import STATIC, TEMPLATES
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from appliance.admin.errors import AdminError
from appliance.admin.guard import AdminGuard
from appliance.admin.pages import ConsolePages
from appliance.admin.people import Access, NewPerson, People
from appliance.admin.people_pages import PeoplePages
from appliance.admin.person import PersonFacts, Publication, Server, Usage
from appliance.identity.directory import AccountPage, AccountQuery
from tests.unit.admin.test_guard import ADA, BOB, ORIGIN, SIGNER, csrf, session_of, token_of


class StandInPeople:
    def __init__(self) -> None:
        self.accounts = {account.username: account for account in (ADA, replace(BOB, groups=("physics",)))}
        self.queries: list[AccountQuery] = []
        self.record = lambda *args: None
        self.directory = self

    def search(self, query: AccountQuery) -> AccountPage:
        self.queries.append(query)
        found = [a for a in self.accounts.values() if query.text in a.username]
        return AccountPage(found, "CURSOR" if len(found) > 1 else None)

    def groups(self) -> list[tuple[str, int]]:
        return [("physics", 1)]

    def get(self, username: str) -> Any:
        if username not in self.accounts:
            raise AdminError(f"there is no account named {username!r}; search People for it.", status=404)
        return self.accounts[username]

    def create(self, actor: Any, person: NewPerson, how: str = "password", password: str | None = None) -> Access:
        made = replace(ADA, id=9, username=person.username, is_admin=person.admin)
        return Access(made, password="generated-secret-1") if how == "password" else Access(made, link="http://x/w/s")

    def existing(self, names: Any) -> set[str]:
        return set(self.accounts) & set(names)


async def servers_usage(username: str) -> Usage:
    return Usage(3, 2_500_000)


async def publications(username: str) -> list[Publication]:
    return [Publication("returns-study", "Returns study", "hidden")]


class OneHub:
    def hub_ids(self) -> list[str]:
        return ["1", "2"]

    async def server(self, username: str) -> Server:
        return Server("1", "running", "2026-11-30T10:00:00Z", "2026-11-30T12:00:00Z", 300 << 20, 2 << 30)

    async def stop(self, username: str) -> None: ...

    async def move(self, username: str, hub_id: str) -> None: ...


def console() -> Starlette:
    guard = AdminGuard(session_of, token_of, SIGNER)
    people = cast(People, StandInPeople())
    pages = PeoplePages(guard, people, PersonFacts(OneHub(), servers_usage, publications))
    stub = PlainTextResponse("stub")
    named = [Route(f"/{name}", lambda request: stub, name=name)
             for name in ("home", "research", "password", "logout", "status", "login")]
    app = Starlette(routes=[*ConsolePages(guard).routes(), *pages.routes(),
                            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"), *named])
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES))
    app.state.templates.env.globals.update(version="test", csrf_for=guard.csrf_token)
    return app


def client(cookie: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(console()), base_url=ORIGIN, headers={"origin": ORIGIN},
                             cookies={"appliance_session": cookie})


async def test_the_table_marks_the_section_the_sort_and_links_the_next_page() -> None:
    async with client("ada-cookie") as http:
        assert (await http.get("/admin")).headers["location"] == "/admin/people"
        page = await http.get("/admin/people", params={"sort": "created", "order": "desc", "state": "admins"})
    assert page.status_code == 200, page.text
    assert 'href="/admin/people" aria-current="page">People' in page.text
    assert 'aria-sort="descending"' in page.text and "after=CURSOR" in page.text and "sort=created" in page.text
    assert '<option value="admins" selected>' in page.text and "physics (1)" in page.text


async def test_a_person_shows_their_server_storage_publications_and_forms_with_the_token() -> None:
    async with client("ada-cookie") as http:
        page = await http.get("/admin/people/bob")
        missing = await http.get("/admin/people/nobody")
    assert page.status_code == 200, page.text
    for shown in ("running", "300.0 MB", "2.00 GB", "2.4 MB", "Returns study", "hidden", "Move to this hub",
                  'value="2">Hub 2', "Sign out everywhere", "Make administrator", 'value="physics"'):
        assert shown in page.text, shown
    assert page.text.count(f'value="{csrf(b"ada-digest")}"') >= 7
    assert missing.status_code == 404 and "no account named" in missing.text


async def test_a_new_password_is_shown_once_and_an_import_preview_names_the_bad_row() -> None:
    token = csrf(b"ada-digest")
    async with client("ada-cookie") as http:
        made = await http.post("/admin/people/new", data={"csrf_token": token, "username": "cy", "how": "password"})
        preview = await http.post("/admin/people/import", data={
            "csrf_token": token, "csv": "username,email\ncy,cy@example.org\nbob,\nBad Name,\n", "step": "preview"})
    assert made.status_code == 200 and "generated-secret-1" in made.text and "shown this once" in made.text
    assert preview.status_code == 200, preview.text
    assert "1 can be created, 2 cannot" in preview.text
    assert "already exists" in preview.text and "is not a valid username" in preview.text


async def test_a_member_gets_403_on_every_people_page() -> None:
    async with client("bob-cookie") as http:
        for path in ("/admin", "/admin/people", "/admin/people/new", "/admin/people/import", "/admin/people/ada"):
            assert (await http.get(path)).status_code == 403, path


async def test_a_script_with_an_admin_token_reads_the_pages_too() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(console()), base_url=ORIGIN,
                                 headers={"Authorization": "Bearer apat_read"}) as http:
        page = await http.get("/admin/people/bob")
    assert page.status_code == 200 and "Returns study" in page.text
