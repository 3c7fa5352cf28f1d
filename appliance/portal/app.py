"""The one place that wires the portal's components into a Starlette app."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance import __version__
from appliance.db import make_engine
from appliance.portal import pages
from appliance.portal.errors import http_exception, server_error
from appliance.postgres import database_url
from appliance.webui import STATIC, TEMPLATES

if TYPE_CHECKING:
    from appliance.config import Config


class SecurityHeaders:
    """Headers every portal response carries: no framing by other origins, no sniffing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                for name, value in [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", b"frame-ancestors 'none'"),
                ]:
                    if name not in names:
                        headers.append((name, value))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def make_app(config: Config) -> Starlette:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(version=__version__)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = make_engine(database_url(config.home, config.postgres))
        try:
            yield
        finally:
            app.state.engine.dispose()

    app = Starlette(
        routes=[
            Route("/", pages.home, name="home"),
            Route("/healthz", pages.healthz, name="healthz"),
            Route("/api/status", pages.status_json, name="status"),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: http_exception, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.templates = templates
    app.state.started = time.monotonic()
    return app
