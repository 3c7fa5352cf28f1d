"""The gallery in the admin API (gathered into /api/admin/v1 by api.py), each route one call of the gallery's
Moderation, as `appliance gallery …` is:

    GET    /gallery/publications                  a page of publications in a state, searched
    GET    /gallery/publications/{slug}           one, with its versions' renders and its reports
    POST   /gallery/publications/{slug}/hide      {"reason"}: from everyone but its author and admins
    POST   /gallery/publications/{slug}/unhide
    POST   /gallery/publications/{slug}/feature   pinned at the top of /gallery
    POST   /gallery/publications/{slug}/unfeature
    POST   /gallery/publications/{slug}/rerender  {"version"}: queued for rendering again
    DELETE /gallery/publications/{slug}           for good
    GET    /gallery/reports?state=open|all        what members reported
    POST   /gallery/reports/{report_id}/dismiss   closed without acting on the publication
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from appliance.admin.api import ApiRoute, Param, Schema, json_body
from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin
from appliance.gallery import REPORT_REASONS, STATES, Moderation

WHEN: Schema = {"type": ["string", "null"], "format": "date-time"}
PUBLICATION: Schema = {"type": "object", "properties": {
    "slug": {"type": "string"}, "title": {"type": "string"}, "author": {"type": "string"},
    "visibility": {"type": "string", "description": "lab, unlisted or group:<name>"},
    "state": {"enum": ["published", "hidden", "unpublished"]}, "version": {"type": "integer"},
    "views": {"type": "integer"}, "clones": {"type": "integer"}, "created_at": WHEN, "updated_at": WHEN,
    "hidden_at": WHEN, "hidden_reason": {"type": ["string", "null"]}, "unpublished_at": WHEN,
    "path": {"type": "string"}, "featured": {"type": "boolean"}, "featured_at": WHEN,
    "open_reports": {"type": "integer"}}}
REPORT: Schema = {"type": "object", "properties": {
    "id": {"type": "integer"}, "slug": {"type": "string"}, "title": {"type": "string"}, "author": {"type": "string"},
    "reporter": {"type": "string"}, "reason": {"enum": list(REPORT_REASONS)}, "reason_text": {"type": "string"},
    "detail": {"type": "string"}, "created_at": WHEN, "resolved_at": WHEN, "resolved_by": {"type": ["string", "null"]},
    "resolution": {"enum": ["hidden", "dismissed", None]}, "hidden": {"type": "boolean"}}}
ONE: Schema = {"type": "object", "properties": {"publication": PUBLICATION}}


def int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, str(default))
    if not value.isdigit():
        raise AdminError(f"{name} must be a whole number, not {value[:40]!r}.")
    return int(value)


class GalleryAPI:
    def __init__(self, moderation: Moderation):
        self.moderation = moderation

    def routes(self) -> list[ApiRoute]:
        one = "/gallery/publications/{slug}"
        return [
            ApiRoute("GET", "/gallery/publications", self.listing, "Publications in a state, searched, a page at a "
                     "time", "gallery", query=[
                         Param("state", "which ones", {"enum": list(STATES), "default": "all"}),
                         Param("q", "a part of the title, slug or author's username"),
                         Param("author", "only this member's"),
                         Param("offset", "skip this many", {"type": "integer", "default": 0}),
                         Param("limit", "publications per page, 1 to 200", {"type": "integer", "default": 50})],
                     response={"type": "object", "properties": {
                         "publications": {"type": "array", "items": PUBLICATION}, "more": {"type": "boolean"},
                         "offset": {"type": "integer"}}}),
            ApiRoute("GET", one, self.show, "A publication, its versions' renders and its reports", "gallery"),
            ApiRoute("POST", f"{one}/hide", self.hide, "Hide from everyone but its author and admins", "gallery",
                     body={"type": "object", "properties": {"reason": {
                         "type": "string", "description": "shown to its author"}}}, response=ONE,
                     description="Resolves the reports open on it."),
            ApiRoute("POST", f"{one}/unhide", self.unhide, "Show a hidden publication again", "gallery", response=ONE),
            ApiRoute("POST", f"{one}/feature", self.feature, "Pin at the top of /gallery", "gallery", response=ONE,
                     description="At most 12 at once (409 beyond); members see those they may see."),
            ApiRoute("POST", f"{one}/unfeature", self.unfeature, "Unpin from the top of /gallery", "gallery",
                     response=ONE),
            ApiRoute("POST", f"{one}/rerender", self.rerender, "Queue a version to be rendered again", "gallery",
                     body={"type": "object", "properties": {"version": {
                         "type": "integer", "minimum": 1, "description": "default: the current one"}}},
                     response={"type": "object", "properties": {"version": {"type": "integer"},
                                                                "job": {"type": "integer"}}}, status=202),
            ApiRoute("DELETE", one, self.delete, "Delete for good, with its versions, renders and thread", "gallery",
                     response={"type": "object", "properties": {"deleted": {"type": "string"}}}),
            ApiRoute("GET", "/gallery/reports", self.reports, "What members reported, newest first", "gallery",
                     query=[Param("state", "open ones, or all", {"enum": ["open", "all"], "default": "open"}),
                            Param("slug", "only this publication's")],
                     response={"type": "object", "properties": {"reports": {"type": "array", "items": REPORT}}}),
            ApiRoute("POST", "/gallery/reports/{report_id}/dismiss", self.dismiss, "Dismiss a report without acting",
                     "gallery", response={"type": "object", "properties": {"report": REPORT}}),
        ]

    async def listing(self, request: Request, admin: Admin) -> Response:
        params = request.query_params
        found = await self.moderation.page(state=params.get("state", "all"), query=params.get("q", ""),
                                           author=params.get("author") or None,
                                           offset=int_param(request, "offset", 0),
                                           limit=int_param(request, "limit", 50))
        return JSONResponse({"publications": [item.to_json() for item in found.publications], "more": found.more,
                             "offset": found.offset})

    async def show(self, request: Request, admin: Admin) -> Response:
        slug = request.path_params["slug"]
        found, versions = await self.moderation.show(slug)
        reports = await self.moderation.reports(open_only=False, slug=slug)
        return JSONResponse({"publication": found.to_json(), "versions": [version.to_json() for version in versions],
                             "reports": [report.to_json() for report in reports]})

    async def hide(self, request: Request, admin: Admin) -> Response:
        reason = (await json_body(request)).get("reason", "")
        if not isinstance(reason, str):
            raise AdminError('send {"reason": "why, for its author"}.')
        await self.moderation.hide(request.path_params["slug"], reason, by=admin.audit_actor)
        return await self._one(request)

    async def unhide(self, request: Request, admin: Admin) -> Response:
        await self.moderation.unhide(request.path_params["slug"], by=admin.audit_actor)
        return await self._one(request)

    async def feature(self, request: Request, admin: Admin) -> Response:
        await self.moderation.feature(request.path_params["slug"], by=admin.audit_actor)
        return await self._one(request)

    async def unfeature(self, request: Request, admin: Admin) -> Response:
        await self.moderation.unfeature(request.path_params["slug"], by=admin.audit_actor)
        return await self._one(request)

    async def rerender(self, request: Request, admin: Admin) -> Response:
        version: Any = (await json_body(request)).get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise AdminError('send {"version": <a version number, 1 or more>}, or {} for the current one.')
        number, job = await self.moderation.rerender(request.path_params["slug"], version, by=admin.audit_actor)
        return JSONResponse({"version": number, "job": job}, status_code=202)

    async def delete(self, request: Request, admin: Admin) -> Response:
        await self.moderation.delete(request.path_params["slug"], by=admin.audit_actor)
        return JSONResponse({"deleted": request.path_params["slug"]})

    async def reports(self, request: Request, admin: Admin) -> Response:
        state = request.query_params.get("state", "open")
        if state not in ("open", "all"):
            raise AdminError(f"state must be open or all, not {state[:40]!r}.")
        found = await self.moderation.reports(open_only=state == "open",
                                              slug=request.query_params.get("slug") or None)
        return JSONResponse({"reports": [report.to_json() for report in found]})

    async def dismiss(self, request: Request, admin: Admin) -> Response:
        report_id = request.path_params["report_id"]
        if not report_id.isdigit():
            raise AdminError(f"there is no report {report_id[:40]!r}: reports are numbered.", status=404)
        report = await self.moderation.dismiss(int(report_id), by=admin.audit_actor)
        return JSONResponse({"report": report.to_json()})

    async def _one(self, request: Request) -> Response:
        found, _ = await self.moderation.show(request.path_params["slug"])
        return JSONResponse({"publication": found.to_json()})
