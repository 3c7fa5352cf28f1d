"""The one JSON error shape of the portal's APIs: ``{"ok": false, "error": <message>, "status": <code>}``.

Each component raises its ApplianceError subclasses, whose class-level ``status`` is the HTTP code; its
API converts them here, once, at the boundary.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from appliance.errors import ApplianceError


def error_status(error: ApplianceError) -> int:
    return int(getattr(error, "status", 400))


def json_error(error: ApplianceError) -> JSONResponse:
    status = error_status(error)
    return JSONResponse({"ok": False, "error": error.message, "status": status}, status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
