"""The console's Gallery pages: every publication with its state (/admin/gallery) and the reports members
filed (/admin/gallery/reports); hide, unhide, feature, unfeature, render again, delete, dismiss. Each
action is one call of the gallery's Moderation, as the API and `appliance gallery …` are; forms post,
then go back to the page they came from with what happened (``?done=…``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin, AdminGuard
from appliance.admin.pages import render_admin
from appliance.gallery import REPORT_REASONS, STATES, GalleryError, Moderation

PAGE_SIZE = 50
STATE_LABELS = {"all": "Published and hidden", "published": "Published", "hidden": "Hidden", "featured": "Featured",
                "reported": "Reported", "unpublished": "Unpublished by their authors", "any": "Everything"}
DONE = {"hide": "Hidden: only its author and administrators see it; its author sees your reason.",
        "unhide": "Shown again to whom its author chose.", "feature": "Featured: pinned at the top of the gallery.",
        "unfeature": "No longer featured.", "rerender": "Queued for rendering again.", "delete": "Deleted for good.",
        "dismiss": "Report dismissed."}
ACTIONS = ("hide", "unhide", "feature", "unfeature", "rerender", "delete")


def back_to(form: dict[str, str], done: str) -> str:
    """The console page the form came from (only ever one of the gallery's), told what was done."""
    back = urlsplit(form.get("back", ""))
    path = back.path if not back.scheme and not back.netloc and back.path.startswith("/admin/gallery") else \
        "/admin/gallery"
    query = [(key, value) for key, value in parse_qsl(back.query) if key not in ("done", "error")]
    return f"{path}?{urlencode([*query, ('done', done)])}"


class GalleryPages:
    def __init__(self, guard: AdminGuard, moderation: Moderation):
        self.guard = guard
        self.moderation = moderation

    def routes(self) -> list[Route]:
        page = self.guard.page
        return [
            Route("/admin/gallery", page(self.publications), name="admin_gallery"),
            Route("/admin/gallery/reports", page(self.reports), name="admin_gallery_reports"),
            Route("/admin/gallery/reports/{report_id:int}/dismiss", page(self.dismiss), methods=["POST"],
                  name="admin_gallery_dismiss"),
            Route("/admin/gallery/{slug}/{action}", page(self.act), methods=["POST"], name="admin_gallery_act"),
        ]

    async def publications(self, request: Request, admin: Admin, status_code: int = 200, error: str = "") -> Response:
        params = request.query_params
        state = params.get("state", "all")
        offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
        listing = await self.moderation.page(state=state if state in STATES else "all", query=params.get("q", ""),
                                             offset=offset, limit=PAGE_SIZE)
        open_reports = await self.moderation.open_reports()
        return render_admin(request, admin, "admin/gallery.html", "gallery", status_code=status_code, error=error,
                            listing=listing, state=state, states=STATE_LABELS, q=params.get("q", ""),
                            open_reports=open_reports, done=DONE.get(params.get("done", "")), here=request.url.path
                            + (f"?{request.url.query}" if request.url.query else ""),
                            link=self._link(params), csrf=self.guard.csrf_token(admin.session) if admin.session else "")

    async def reports(self, request: Request, admin: Admin) -> Response:
        everything = request.query_params.get("state") == "all"
        found = await self.moderation.reports(open_only=not everything)
        return render_admin(request, admin, "admin/gallery_reports.html", "gallery", reports=found,
                            everything=everything, reasons=REPORT_REASONS, done=DONE.get(request.query_params.get(
                                "done", "")), here=request.url.path + (f"?{request.url.query}" if request.url.query
                                                                       else ""))

    async def dismiss(self, request: Request, admin: Admin) -> Response:
        form = await self._form(request)
        await self.moderation.dismiss(request.path_params["report_id"], by=admin.audit_actor)
        return RedirectResponse(back_to({"back": "/admin/gallery/reports", **form}, "dismiss"), status_code=303)

    async def act(self, request: Request, admin: Admin) -> Response:
        slug, action = request.path_params["slug"], request.path_params["action"]
        if action not in ACTIONS:
            raise AdminError(f"there is no action {action!r} on a publication.", status=404)
        form = await self._form(request)
        by, moderation = admin.audit_actor, self.moderation
        try:
            if action == "hide":
                await moderation.hide(slug, form.get("reason", ""), by=by)
            elif action == "unhide":
                await moderation.unhide(slug, by=by)
            elif action == "feature":
                await moderation.feature(slug, by=by)
            elif action == "unfeature":
                await moderation.unfeature(slug, by=by)
            elif action == "rerender":
                await moderation.rerender(slug, by=by)
            else:
                await moderation.delete(slug, by=by)
        except GalleryError as error:
            if error.status == 404:
                raise
            return await self.publications(request, admin, status_code=error.status, error=error.message)
        return RedirectResponse(back_to(form, action), status_code=303)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        return {key: str(value) for key, value in (await request.form()).items() if isinstance(value, str)}

    @staticmethod
    def _link(params: Any) -> Any:
        def link(**changes: Any) -> str:
            wanted = {key: value for key, value in {**dict(params), **changes}.items()
                      if value not in ("", None, 0) and key != "done"}
            return "/admin/gallery" + (f"?{urlencode(wanted)}" if wanted else "")

        return link
