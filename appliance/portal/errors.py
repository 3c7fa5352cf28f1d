"""Errors at the HTTP boundary: one JSON shape for the API, one HTML page for browsers.

JSON errors are ``{"ok": false, "error": "<what happened and what to do>", "status": <code>}``.
"""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from appliance.web import json_message, render

log = logging.getLogger("appliance.portal")
# What a request meets while PostgreSQL restarts or is out of connections: a moment's wait, not a fault of ours
DATABASE_UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError, psycopg.OperationalError,
                        PoolTimeout)
RETRY_AFTER_S = 2


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


async def session_of(request: Request) -> object | None:
    """The signed-in member, so that an error page shows their menu rather than "Sign in"; None when
    there is none or it cannot be known now (the database is down)."""
    find = getattr(request.app.state, "session_of", None)
    if find is None:
        return None
    try:
        session: object | None = await find(request)
    except Exception:  # the error page must render whatever broke
        return None
    return session


def error_response(request: Request, status: int, message: str, session: object | None = None) -> Response:
    if wants_json(request):
        return json_message(message, status)
    return render(request, "error.html", status_code=status, status=status, message=message, session=session)


async def http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise TypeError(f"not an HTTPException: {exc!r}")
    messages = {404: f"There is no page at {request.url.path}.", 405: "That method is not allowed here."}
    session = None if wants_json(request) else await session_of(request)
    return error_response(request, exc.status_code, messages.get(exc.status_code, exc.detail), session)


async def server_error(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware re-raises after this, so the traceback is logged.
    return error_response(request, 500, "Something went wrong on the server; the error has been logged.")


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: the database did not answer (%s)", request.method, request.url.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    response = error_response(request, 503, "The database is not answering just now (it may be restarting); "
                                            "try again in a moment.")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
