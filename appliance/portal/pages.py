"""The portal's own pages: home, liveness and the JSON status."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from appliance import __version__
from appliance.db import installed_at
from appliance.portal.templating import render

if TYPE_CHECKING:
    from appliance.config import Config


def _database_status(engine: Engine) -> dict[str, Any]:
    began = time.perf_counter()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        since = installed_at(engine)
    except Exception as exc:  # any driver or pool error means "not reachable now"
        return {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {
        "ok": True,
        "latency_ms": round((time.perf_counter() - began) * 1000, 1),
        "installed_at": since.isoformat() if since else None,
    }


async def _status(request: Request) -> dict[str, Any]:
    config: Config = request.app.state.config
    database = await run_in_threadpool(_database_status, request.app.state.engine)
    return {
        "ok": database["ok"],
        "version": __version__,
        "uptime_s": round(time.monotonic() - request.app.state.started, 1),
        "database": database,
        "hub_origin": hub_origin(config, request),
    }


def hub_origin(config: Config, request: Request) -> str:
    """The hub origin as the browser should see it: same host as the portal, the proxy's port."""
    host = request.url.hostname or "127.0.0.1"
    return f"{request.url.scheme}://{host}:{config.proxy.port}"


async def home(request: Request) -> Response:
    return render(request, "home.html", status=await _status(request))


async def healthz(request: Request) -> Response:
    """Liveness of the portal process itself; the database's state is in /api/status."""
    return PlainTextResponse("ok")


async def status_json(request: Request) -> Response:
    status = await _status(request)
    return JSONResponse(status, status_code=200 if status["ok"] else 503)
