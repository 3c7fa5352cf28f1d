"""Serve the portal's app with uvicorn, its access log kept readable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from appliance.logscrub import scrub_handlers
from appliance.portal.guards import MAX_HEADER_BYTES
from appliance.portal.settings import PortalSettings
from appliance.storage.api import PREFIX as STORAGE_API

HEALTH_PATH = "/healthz"  # the supervisor's check (application/children.py)


class QuietRoutineCalls(logging.Filter):
    """Leave the storage API's successful calls and the supervisor's health checks out of the access log:
    every save, open and listing of every member's server makes one or two, a check comes every few seconds,
    and they would drown the lines an administrator reads. Refused and failed calls are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and str(args[2]).startswith((STORAGE_API, HEALTH_PATH)):
            status = args[4]
            return not isinstance(status, int) or status >= 400
        return True


class Server(uvicorn.Server):
    """uvicorn's server, whose main loop wakes once a second instead of ten times (a visible part of an idle
    portal's CPU): the loop's tick refreshes the Date header once a second anyway, and a signal to exit now
    wakes it at once instead of being noticed at the next tick."""

    _wake: Callable[[], object] | None = None

    async def main_loop(self) -> None:
        exit_requested, loop = asyncio.Event(), asyncio.get_running_loop()
        self._wake = lambda: loop.call_soon_threadsafe(exit_requested.set)
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the Date header when counter % 10 == 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(exit_requested.wait(), 1.0)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._wake is not None:
            self._wake()


def serve(app: ASGIApp, settings: PortalSettings, also_on: str = "") -> None:
    """Serve ``app`` on portal.host, and with ``also_on`` (nodes.address) on that address too, for hub nodes."""
    server_config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,  # forwarded headers: only the front proxy's (portal/forwarded.py)
        http="h11",  # h11 bounds an incomplete request head; httptools buffers headers of any size
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    logging.getLogger("uvicorn.access").addFilter(QuietRoutineCalls())  # after uvicorn set up logging
    scrub_handlers(logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"))
    hosts = [settings.host, *([also_on] if also_on and also_on != settings.host and settings.host != "0.0.0.0" else [])]
    Server(server_config).run(sockets=[_listening(host, settings.port) for host in hosts])


def _listening(host: str, port: int) -> socket.socket:
    """A socket bound as uvicorn binds its own (which it does for one host only)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    bound.bind((host, port))
    bound.set_inheritable(True)
    return bound
