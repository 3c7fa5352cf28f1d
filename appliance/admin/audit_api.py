"""The admin API's audit routes (gathered into /api/admin/v1 by api.py), thin over appliance.audit:

    GET /audit/events?since&until&actor&action&target&q&limit&cursor   {"events": [event…], "next": cursor | null}
                                                                         newest first, a page at a time
    GET /audit/events.csv?since&until&actor&action&target&q             every matching event as CSV (streamed)

``since``/``until`` take an age (30m, 12h, 7d, 2w) or an ISO date or time; ``action`` matches the name and
its kinds ("sign-in" finds sign-in.failed); ``q`` searches every column. An export is itself recorded
(audit.exported), with its filters, once it was sent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from appliance.admin.api import ApiRoute, Param, Schema
from appliance.admin.guard import Admin
from appliance.audit import ACTIONS, Audit, Filters, parse_filters
from appliance.audit.errors import BadFilter
from appliance.audit.export import csv_lines
from appliance.audit.filters import decode_cursor, encode_cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
FILTERS = [
    Param("since", "only events since then: an age (30m, 12h, 7d, 2w) or an ISO date or time"),
    Param("until", "only events before then (same forms as since)"),
    Param("actor", "only what this account (or cli:<user>, system, client:<id>) did"),
    Param("action", "only this action and its kinds ('sign-in' finds sign-in.failed too)",
          {"type": "string", "examples": sorted(ACTIONS)}),
    Param("target", "only events about this (an account, a publication, a client, a hub)"),
    Param("q", "only events with this text in any column (case-insensitive)"),
]
EVENT: Schema = {"type": "object", "required": ["id", "at", "actor", "action", "target", "address", "detail"],
                 "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                                "actor": {"type": "string", "description": "who: an account, cli:<user>, system"},
                                "action": {"type": "string"}, "target": {"type": "string"},
                                "address": {"type": "string", "description": "from where: the client's address"},
                                "detail": {"type": "object"}}}
EVENTS: Schema = {"type": "object", "properties": {
    "events": {"type": "array", "items": EVENT},
    "next": {"type": ["string", "null"], "description": "the cursor of the next (older) page; null: no more"}}}


def filters_of(request: Request) -> Filters:
    return parse_filters(dict(request.query_params), datetime.now(timezone.utc))


def limit_of(request: Request) -> int:
    given = request.query_params.get("limit", "")
    if not given:
        return DEFAULT_LIMIT
    if not given.isdigit() or not 1 <= int(given) <= MAX_LIMIT:
        raise BadFilter(f"limit = {given[:20]!r}: give a whole number from 1 to {MAX_LIMIT}.")
    return int(given)


def export_name(now: datetime) -> str:
    return f"audit-{now:%Y%m%d-%H%M%S}.csv"


class AuditAPI:
    def __init__(self, audit: Audit):
        self.audit = audit

    def routes(self) -> list[ApiRoute]:
        return [
            ApiRoute("GET", "/audit/events", self.events, "The audit log, newest first, a page at a time", "audit",
                     query=[*FILTERS, Param("limit", f"events per page (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT})",
                                            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                            Param("cursor", "the previous page's next: the page after it")],
                     response=EVENTS),
            ApiRoute("GET", "/audit/events.csv", self.export, "Every matching event as CSV", "audit",
                     query=FILTERS, response={"type": "string"}, content_type="text/csv",
                     description="Columns at, actor, action, target, address, detail (JSON). Cells that a "
                                 "spreadsheet would run as a formula start with an apostrophe. Recorded as "
                                 "audit.exported."),
        ]

    async def events(self, request: Request, admin: Admin) -> Response:
        filters, limit = filters_of(request), limit_of(request)
        cursor = request.query_params.get("cursor")
        page = await run_in_threadpool(self.audit.store.page, filters, limit, decode_cursor(cursor) if cursor else None)
        return JSONResponse({"events": [event.to_json() for event in page.events],
                             "next": encode_cursor(*page.next_cursor) if page.next_cursor else None})

    async def export(self, request: Request, admin: Admin) -> Response:
        filters = filters_of(request)
        lines = iterate_in_threadpool(csv_lines(self.audit.store.stream(filters)))
        # recorded once sent: the export never lists itself
        exported = BackgroundTask(self.audit.record, admin.audit_actor, "audit.exported", "",
                                  filters_json(filters))
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", background=exported, headers={
            "Content-Disposition": f'attachment; filename="{export_name(datetime.now(timezone.utc))}"'})


def filters_json(filters: Filters) -> dict[str, Any]:
    return {"filters": filters.to_query()}
