"""The console's frame: /admin, the layout every admin page renders in, and the People pages.

Every page goes through ``AdminGuard.page``: nobody is sent to sign in, a member gets 403, and every
form posts the session's CSRF token (``csrf_token``), checked by the guard before the handler runs.
Other owners render their pages with ``render_admin`` and the section they belong to, which the left
nav marks (``webui/templates/admin/base.html``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appliance.admin.guard import Admin, AdminGuard
from appliance.web import render

SECTIONS = (("people", "People", "/admin/people"), ("hubs", "Hubs", "/admin/hubs"),
            ("gallery", "Gallery", "/admin/gallery"), ("software", "Software", "/admin/software"),
            ("system", "System", "/admin/system"),
            ("audit", "Audit", "/admin/audit"))


def render_admin(request: Request, admin: Admin, template: str, section: str, status_code: int = 200,
                 **context: object) -> Response:
    """An admin page in the console's layout, with ``section`` marked in the nav."""
    return render(request, template, status_code=status_code, session=admin.session, admin=admin,
                  sections=SECTIONS, section=section, **context)


class ConsolePages:
    def __init__(self, guard: AdminGuard):
        self.guard = guard

    def routes(self) -> list[Route]:
        return [Route("/admin", self.guard.page(self.index), name="admin")]

    async def index(self, request: Request, admin: Admin) -> Response:
        return RedirectResponse("/admin/people", status_code=303)
