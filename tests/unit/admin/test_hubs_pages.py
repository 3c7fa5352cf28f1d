"""The Hubs and System pages render from what their consoles report (stand-ins here; the integration tests
use the real ones): the hubs' rows and the script's API and CSRF token, and the system's parts."""

from __future__ import annotations

from typing import Any

import httpx
from appliance.webui import STATIC, TEMPLATES
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from appliance.admin.guard import AdminGuard
from appliance.admin.hubs import HubView
from appliance.admin.hubs_pages import HubsPages
from appliance.discovery import Hub
from tests.unit.admin.test_guard import ORIGIN, SIGNER, session_of, token_of

HUBS = [HubView(Hub("1", "draining", 0.4, 12, 5, 1, "local", "none", True, 3, 7, 512 * 2**20),
                {"state": "healthy", "pid": 4242, "uptime_s": 60.0, "restarts": 1, "last_error": ""}),
        HubView(Hub("2", "dead", 30.0, 0, 0, 0, "local", "none", False, 1), None)]
REPORT: dict[str, Any] = {
    "supervisor": {"pid": 1, "home": "/var/lib/appliance", "version": "1.0", "started_at": 0, "phase": "running"},
    "components": [{"name": "hub-1", "state": "healthy", "pid": 4242, "uptime_s": 7300.0, "restarts": 1,
                    "address": "127.0.0.1:9001", "last_error": "exit 1 at 12:00:00"}],
    "hubs": [hub.hub.to_json() for hub in HUBS], "members": {"isolated": False, "note": "NOT isolated."},
    "versions": {"appliance": "1.0", "postgresql": "15.8"}, "databases": [{"name": "appliance", "bytes": 9 * 2**20}],
    "disk": [{"name": "home", "path": "/var/lib/appliance", "free_bytes": 2**34, "total_bytes": 2**35}],
    "last_backup": None,
    "configuration": {"file": "", "knobs": [{"section": "postgres", "key": "url", "secret": True, "value": "********",
                                             "source": "env APPLIANCE_POSTGRES_URL"}]},
    "errors": [{"component": "hub-1", "modified": 0, "lines": ["[E 12:00 JupyterHub] token refused: [secret]"]}],
}


class Consoles:
    async def hubs(self) -> list[HubView]:
        return HUBS

    async def report(self) -> dict[str, Any]:
        return REPORT


async def elsewhere(request: object) -> Response:
    return PlainTextResponse("another page")


def app() -> Starlette:
    guard = AdminGuard(session_of, token_of, SIGNER)
    pages = HubsPages(guard, Consoles(), Consoles())  # type: ignore[arg-type]
    layout = [Route(f"/{name}", elsewhere, name=name) for name in ("home", "research", "password", "logout", "login",
                                                                   "status")]
    made = Starlette(routes=[*pages.routes(), *layout, Mount("/static", StaticFiles(directory=str(STATIC)),
                                                             name="static")])
    made.state.templates = Jinja2Templates(directory=str(TEMPLATES))
    made.state.templates.env.globals.update(version="test", csrf_for=guard.csrf_token)
    return made


async def get(path: str, cookie: str = "ada-cookie") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app()), base_url=ORIGIN,
                                 cookies={"appliance_session": cookie}) as client:
        return await client.get(path)


async def test_the_hubs_page_shows_each_hub_and_carries_the_api_and_csrf_token_for_its_script() -> None:
    page = await get("/admin/hubs?window=7d")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    text = page.text
    assert 'data-api="/api/admin/v1"' in text and f'data-csrf="{SIGNER.token(b"session:ada-digest")}"' in text
    assert 'data-initial-window="7d"' in text and 'aria-current="page">Hubs' in text
    assert '<span class="state state-draining">draining</span>' in text and "512.0 MB" in text and "pid 4242" in text
    assert '<span class="state state-dead">dead</span>' in text and "admin-hubs.js" in text
    assert (await get("/admin/hubs", cookie="bob-cookie")).status_code == 403


async def test_the_system_page_shows_components_versions_storage_errors_and_the_masked_configuration() -> None:
    page = await get("/admin/system")
    assert page.status_code == 200, page.text
    for shown in ("hub-1", "exit 1 at 12:00:00", "2.0 h", "15.8", "9.0 MB", "16.0 GB of 32.0 GB", "None recorded",
                  "token refused: [secret]", "postgres.url", "********", "NOT isolated."):
        assert shown in page.text, shown
