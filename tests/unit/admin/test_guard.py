"""admin_of and the wrappers on a minimal app: sessions and tokens are stand-ins, the CSRF signer and the
error page are the portal's own."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

import httpx
from appliance.webui import STATIC, TEMPLATES
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from appliance.admin.guard import Admin, AdminGuard
from appliance.errors import ApplianceError
from appliance.identity.accounts import Account
from appliance.identity.csrf import CsrfSigner
from appliance.identity.sessions import Session

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)
ADA = Account(id=1, subject="s-1", username="ada", display_name="Ada", email="", groups=(), is_admin=True,
              disabled=False, created_at=NOW, last_login_at=None)
BOB = replace(ADA, id=2, subject="s-2", username="bob", display_name="Bob", is_admin=False)
SESSIONS = {"ada-cookie": Session(b"ada-digest", ADA, NOW, NOW), "bob-cookie": Session(b"bob-digest", BOB, NOW, NOW)}


@dataclass(frozen=True)
class Token:
    name: str
    account: Account
    scope: str

    def allows(self, method: str) -> bool:
        return self.scope == "write" or method in ("GET", "HEAD")


TOKENS = {f"apat_{scope}": Token("nightly", ADA, scope) for scope in ("read", "write")}
SIGNER = CsrfSigner("test-secret")
ORIGIN = "http://portal.test"


async def session_of(request: Request) -> Session | None:
    return SESSIONS.get(request.cookies.get("appliance_session", ""))


async def token_of(value: str) -> Token | None:
    return TOKENS.get(value)


async def whoami(request: Request, admin: Admin) -> Response:
    if request.query_params.get("fail"):
        raise ApplianceError("there is no such person; see the People page.")
    form = await request.form() if request.method == "POST" else {}
    return JSONResponse({"actor": admin.actor, "via": "token" if admin.token else "session",
                         "fields": sorted(str(key) for key in form)})


def console() -> Starlette:
    guard = AdminGuard(session_of, token_of, SIGNER)
    stub = PlainTextResponse("stub")
    named = [Route(f"/{name}", lambda request: stub, name=name)
             for name in ("home", "research", "password", "logout", "status", "login")]
    app = Starlette(routes=[
        Route("/api/admin/v1/whoami", guard.api(whoami), methods=["GET", "POST", "DELETE"]),
        Route("/admin/whoami", guard.page(whoami), methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"), *named,
    ])
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES))
    app.state.templates.env.globals.update(version="test", csrf_for=guard.csrf_token)
    return app


def client(cookie: str | None = None, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(console()), base_url=ORIGIN, headers=headers,
                             cookies={"appliance_session": cookie} if cookie else None)


def csrf(digest: bytes) -> str:
    return SIGNER.token(b"session:" + digest)


async def test_nobody_gets_401_from_the_api_and_the_sign_in_page_from_a_page() -> None:
    async with client() as http:
        api = await http.get("/api/admin/v1/whoami")
        assert api.status_code == 401 and api.json()["ok"] is False and api.json()["status"] == 401
        assert "admin-token create" in api.json()["error"] and api.headers["www-authenticate"] == "Bearer"
        assert (await http.post("/api/admin/v1/whoami")).status_code == 401
        page = await http.get("/admin/whoami?x=1")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fadmin%2Fwhoami%3Fx%3D1"
        for answer in (api, page):
            assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


async def test_a_members_session_gets_403_everywhere_with_or_without_a_csrf_token() -> None:
    async with client("bob-cookie", origin=ORIGIN) as http:
        api = await http.get("/api/admin/v1/whoami")
        assert api.status_code == 403 and api.json() == {"ok": False, "error": "This is for the lab's "
                                                         "administrators only.", "status": 403}
        posted = await http.post("/api/admin/v1/whoami", headers={"X-CSRF-Token": csrf(b"bob-digest")})
        assert posted.status_code == 403
        page = await http.get("/admin/whoami")
        assert page.status_code == 403 and "administrators only" in page.text and "Signed in as" in page.text
        assert page.headers["x-frame-options"] == "DENY"


async def test_an_admins_session_reads_and_writes_only_with_its_csrf_token_from_this_origin() -> None:
    async with client("ada-cookie", origin=ORIGIN) as http:
        assert (await http.get("/api/admin/v1/whoami")).json()["actor"] == "ada"
        assert (await http.post("/api/admin/v1/whoami")).status_code == 403
        assert (await http.delete("/api/admin/v1/whoami", headers={"X-CSRF-Token": csrf(b"bob-digest")})
                ).status_code == 403
        good = await http.post("/api/admin/v1/whoami", headers={"X-CSRF-Token": csrf(b"ada-digest")})
        assert good.status_code == 200 and good.json()["via"] == "session"
        form = await http.post("/admin/whoami", data={"csrf_token": csrf(b"ada-digest"), "name": "x"})
        assert form.status_code == 200 and form.json()["fields"] == ["csrf_token", "name"]  # the form is still read
        refused = await http.post("/admin/whoami", data={"csrf_token": "forged"})
        assert refused.status_code == 403 and "CSRF" in refused.text
    async with client("ada-cookie", origin="http://evil.test") as http:
        assert (await http.post("/api/admin/v1/whoami", headers={"X-CSRF-Token": csrf(b"ada-digest")})
                ).status_code == 403
    async with client("ada-cookie") as http:  # neither Origin nor Referer
        assert (await http.post("/api/admin/v1/whoami", headers={"X-CSRF-Token": csrf(b"ada-digest")})
                ).status_code == 403


async def test_an_admin_token_needs_no_csrf_and_a_read_token_may_only_read() -> None:
    async with client(Authorization="Bearer apat_write") as http:
        posted = await http.post("/api/admin/v1/whoami")
        assert posted.status_code == 200 and posted.json() == {"actor": "ada (token nightly)", "via": "token",
                                                               "fields": []}
    async with client(Authorization="Bearer apat_read") as http:
        assert (await http.get("/api/admin/v1/whoami")).status_code == 200
        refused = await http.delete("/api/admin/v1/whoami")
        assert refused.status_code == 403 and "scope write" in refused.json()["error"]


async def test_a_bad_token_is_401_even_beside_an_admins_session() -> None:
    for header in ("Bearer apat_unknown", "Bearer ", "Basic YWRhOnB3"):
        async with client("ada-cookie", Authorization=header) as http:
            refused = await http.get("/api/admin/v1/whoami")
            assert refused.status_code == 401 and "revoked or expired" in refused.json()["error"], header


async def test_a_handlers_error_keeps_the_portals_shapes() -> None:
    async with client("ada-cookie") as http:
        api = await http.get("/api/admin/v1/whoami?fail=1")
        assert api.status_code == 400 and api.json()["error"] == "there is no such person; see the People page."
        page = await http.get("/admin/whoami?fail=1")
        assert page.status_code == 400 and "no such person" in page.text and page.headers["x-frame-options"] == "DENY"
