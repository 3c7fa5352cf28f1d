"""The admin API's hubs and system routes (gathered into /api/admin/v1 by api.py):

    GET  /hubs                      {"hubs": [hub…], "totals"}: live state, the supervisor's view of each process
    GET  /hubs/history?window=24h   every hub's members, active members, servers and memory over 24h or 7d
    POST /hubs/{hub_id}/drain       no new members for the hub → {"hub"}
    POST /hubs/{hub_id}/undrain     new members again → {"hub"}
    POST /hubs/{hub_id}/restart     the supervisor restarts the hub's process → 202 {"hub"}
    GET  /system                    what `appliance status` shows, versions, sizes, disk, last backup, the
                                    configuration (secrets masked) and recent errors (secrets redacted)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from appliance.admin.api import ApiRoute, Param, Schema
from appliance.admin.guard import Admin
from appliance.admin.hubs import HubsConsole, totals
from appliance.admin.system import SystemConsole
from appliance.discovery import History
from appliance.discovery.samples import COUNTS, WINDOWS

COUNT: Schema = {"type": "integer", "minimum": 0}
HUB: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "state": {"enum": ["routable", "suspect", "dead", "draining", "restarting", "unregistered"]},
        "heartbeat_age_s": {"type": ["number", "null"]}, "assigned": COUNT, "active": COUNT, "running": COUNT,
        "pending": COUNT, "memory_bytes": {"type": ["integer", "null"]}, "draining": {"type": "boolean"},
        "spawner": {"type": "string"}, "isolation": {"type": "string"},
        "version": {"type": "string", "description": "the appliance version the hub runs (\"\": not reported)"},
        "process": {"type": ["object", "null"], "description": "the supervisor's view: state, pid, uptime_s, "
                                                                "restarts, last_error (null: no supervisor answers)"},
    },
}
ONE_HUB: Schema = {"type": "object", "properties": {"hub": HUB}}
HUBS: Schema = {"type": "object", "properties": {
    "hubs": {"type": "array", "items": HUB},
    "totals": {"type": "object", "properties": {name: COUNT for name in COUNTS}}}}
HISTORY: Schema = {"type": "object", "properties": {
    "window": {"enum": list(WINDOWS)}, "since": {"type": "number"}, "until": {"type": "number"},
    "bucket_s": {"type": "number"},
    "hubs": {"type": "array", "items": {"type": "object", "properties": {
        "hub": {"type": "string"}, "at": {"type": "array", "items": {"type": "number"}},
        **{name: {"type": "array", "items": {"type": ["integer", "null"]}} for name in COUNTS}}}}}}
SYSTEM: Schema = {"type": "object", "properties": {name: {} for name in (
    "supervisor", "components", "hubs", "members", "versions", "databases", "disk", "last_backup", "configuration",
    "errors")}}


class HubsAPI:
    def __init__(self, hubs: HubsConsole, system: SystemConsole):
        self.hubs_console = hubs
        self.system_console = system
        self._written: dict[str, tuple[History, bytes]] = {}  # window -> (the kept history, its JSON)

    def routes(self) -> list[ApiRoute]:
        return [
            ApiRoute("GET", "/hubs", self.hubs, "The hubs' live state", "hubs", response=HUBS),
            ApiRoute("GET", "/hubs/history", self.history, "Every hub's samples over 24 hours or 7 days", "hubs",
                     query=[Param("window", "24h or 7d", {"enum": list(WINDOWS)})], response=HISTORY,
                     description="Peak per bucket (5 min over 24 h, 30 min over 7 days) of the samples the portal "
                                 "takes every discovery.sample_interval_s."),
            ApiRoute("POST", "/hubs/{hub_id}/drain", self.drain, "Drain a hub: no new members", "hubs",
                     response=ONE_HUB),
            ApiRoute("POST", "/hubs/{hub_id}/undrain", self.undrain, "Undrain a hub: new members again", "hubs",
                     response=ONE_HUB),
            ApiRoute("POST", "/hubs/{hub_id}/restart", self.restart, "Restart a hub's process", "hubs",
                     response=ONE_HUB, status=202,
                     description="Answers once the process has stopped; the supervisor starts it again and it "
                                 "registers anew (a new epoch). Its members' servers keep running."),
            ApiRoute("GET", "/system", self.system, "The system: components, versions, sizes, configuration, "
                     "errors", "system", response=SYSTEM),
        ]

    async def hubs(self, request: Request, admin: Admin) -> Response:
        views = await self.hubs_console.hubs()
        return JSONResponse({"hubs": [view.to_json() for view in views], "totals": totals(views)})

    async def history(self, request: Request, admin: Admin) -> Response:
        """The history is kept until the next sample (discovery.samples): so is its JSON, 130 kB for 7 days of
        10 hubs and 3 ms of the event loop to write each time."""
        found = await self.hubs_console.history(request.query_params.get("window", "24h"))
        written = self._written.get(found.window)
        if written is None or written[0] is not found:
            written = self._written[found.window] = (found, bytes(JSONResponse(found.to_json()).body))
        return Response(written[1], media_type="application/json")

    async def drain(self, request: Request, admin: Admin) -> Response:
        return self._hub(await self.hubs_console.drain(request.path_params["hub_id"], admin.audit_actor))

    async def undrain(self, request: Request, admin: Admin) -> Response:
        return self._hub(await self.hubs_console.undrain(request.path_params["hub_id"], admin.audit_actor))

    async def restart(self, request: Request, admin: Admin) -> Response:
        hub = await self.hubs_console.restart(request.path_params["hub_id"], admin.audit_actor)
        return self._hub(hub, status=202)

    async def system(self, request: Request, admin: Admin) -> Response:
        return JSONResponse(await self.system_console.report())

    @staticmethod
    def _hub(hub: Any, status: int = 200) -> Response:
        return JSONResponse({"hub": hub.to_json()}, status_code=status)
