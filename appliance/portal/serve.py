"""Serve the portal's app with uvicorn, its access log kept readable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from appliance.logscrub import scrub_handlers
from appliance.portal.guards import MAX_HEADER_BYTES
from appliance.portal.settings import PortalSettings
from appliance.storage.api import PREFIX as STORAGE_API
from appliance.supervisor import inherited_sockets
from appliance.supervisor.ports import bind_port

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
    # the supervisor's, listening on listening_hosts, when it runs the portal; else bound here, as uvicorn would
    sockets = inherited_sockets() or [bind_port(host, settings.port, "the portal", "portal.port")
                                      for host in listening_hosts(settings, also_on)]
    Server(server_config).run(sockets=sockets)


def listening_hosts(settings: PortalSettings, also_on: str = "") -> list[str]:
    """The addresses the portal listens on: portal.host, and ``also_on`` unless portal.host is that or every
    address (uvicorn itself binds one host only)."""
    return [settings.host, *([also_on] if also_on and also_on != settings.host and settings.host != "0.0.0.0" else [])]
