"""The console's Hubs and System pages (/admin/hubs, /admin/system).

The Hubs page is rendered with the hubs' state at that moment; its script (webui/static/admin-hubs.js) then
polls the admin API every 2 s, draws the chart from /hubs/history, and drains, undrains or restarts a hub
with the session's CSRF token, which the page carries for it (``data-csrf``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.admin.api import PREFIX
from appliance.admin.guard import Admin, AdminGuard
from appliance.admin.hubs import HubsConsole, totals
from appliance.admin.pages import render_admin
from appliance.admin.system import SystemConsole
from appliance.discovery.samples import WINDOWS


class HubsPages:
    def __init__(self, guard: AdminGuard, hubs: HubsConsole, system: SystemConsole):
        self.guard = guard
        self.hubs_console = hubs
        self.system_console = system

    def routes(self) -> list[Route]:
        return [Route("/admin/hubs", self.guard.page(self.hubs), name="admin_hubs"),
                Route("/admin/system", self.guard.page(self.system), name="admin_system")]

    async def hubs(self, request: Request, admin: Admin) -> Response:
        views = await self.hubs_console.hubs()
        window = request.query_params.get("window", "24h")
        return render_admin(request, admin, "admin/hubs.html", "hubs", hubs=views, totals=totals(views),
                            api=PREFIX, window=window if window in WINDOWS else "24h", windows=WINDOWS,
                            csrf=self.guard.csrf_token(admin.session) if admin.session else "")

    async def system(self, request: Request, admin: Admin) -> Response:
        return render_admin(request, admin, "admin/system.html", "system", report=await self.system_console.report())
