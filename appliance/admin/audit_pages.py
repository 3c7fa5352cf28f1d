"""The console's Audit page: the log newest first, filtered and searched on the server, a page at a time,
with a link to the same selection as CSV (the API's export). Thin over appliance.audit, as the API and
`appliance audit` are.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.admin.api import PREFIX
from appliance.admin.audit_api import filters_of
from appliance.admin.guard import Admin, AdminGuard
from appliance.admin.pages import render_admin
from appliance.audit import ACTIONS, Audit, Event
from appliance.audit.errors import AuditError
from appliance.audit.filters import decode_cursor, encode_cursor

PAGE_SIZE = 50
FILTER_KEYS = ("since", "until", "actor", "action", "target", "q")


def detail_text(event: Event) -> str:
    return json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True) if event.detail else ""


class AuditPages:
    def __init__(self, guard: AdminGuard, audit: Audit):
        self.guard = guard
        self.audit = audit

    def routes(self) -> list[Route]:
        return [Route("/admin/audit", self.guard.page(self.log), name="admin_audit")]

    async def log(self, request: Request, admin: Admin) -> Response:
        given = {key: request.query_params.get(key, "") for key in FILTER_KEYS}
        query = {key: value for key, value in given.items() if value}
        context: dict[str, Any] = {"given": given, "filtered": bool(query), "actions": ACTIONS,
                                   "detail_text": detail_text, "audit_keep_days": self.audit.settings.keep_days}
        try:
            filters = filters_of(request)
            cursor = request.query_params.get("cursor")
            page = await run_in_threadpool(self.audit.store.page, filters, PAGE_SIZE,
                                           decode_cursor(cursor) if cursor else None)
        except AuditError as error:
            return render_admin(request, admin, "admin/audit.html", "audit", status_code=400, error=error.message,
                                events=[], older=None, csv_url=None, first_page=True, **context)
        older = (f"/admin/audit?{urlencode({**query, 'cursor': encode_cursor(*page.next_cursor)})}"
                 if page.next_cursor else None)
        selection = f"?{urlencode(query)}" if query else ""
        return render_admin(request, admin, "admin/audit.html", "audit", events=page.events, older=older,
                            first_page=cursor is None, newest=f"/admin/audit{selection}",
                            csv_url=f"{PREFIX}/audit/events.csv{selection}", **context)
