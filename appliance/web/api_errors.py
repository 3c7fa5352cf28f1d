"""The one JSON error shape of the portal's APIs (errors.error_body): ``{"ok": false, "error": <message>,
"status": <code>}``.

Each component raises its ApplianceError subclasses, whose class-level ``status`` is the HTTP code; its
API converts them here, once, at the boundary.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from appliance.errors import ApplianceError, error_body


def json_message(message: str, status: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``message`` (what happened and what to do) in the one shape, with ``status`` as the HTTP code."""
    return JSONResponse(error_body(message, status), status_code=status, headers=headers)


def error_status(error: ApplianceError) -> int:
    return int(getattr(error, "status", 400))


def json_error(error: ApplianceError) -> JSONResponse:
    status = error_status(error)
    return json_message(error.message, status, {"WWW-Authenticate": "Bearer"} if status == 401 else None)
