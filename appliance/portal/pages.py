"""The portal's own pages: home, the Research page, liveness and the JSON status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from appliance import __version__
from appliance.db import installed_at
from appliance.hub.addresses import SIGNED_OUT_PATH, Addresses
from appliance.hub.profiles import Profile, available
from appliance.storage.errors import BadPath
from appliance.storage.paths import normalize
from appliance.web import render

if TYPE_CHECKING:
    from appliance.identity import Identity


# the signed-out page runs only the portal's own script, posts only to the portal and is framed only by it
SIGNED_OUT_POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors 'self'")


def _open_path(request: Request) -> tuple[str, str]:
    """The ``open`` query's path in the member's files, normalised, and the raw value when it is no path."""
    raw = request.query_params.get("open", "")
    try:
        return normalize(raw), ""
    except BadPath:
        return "", raw


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


HubStates = Callable[[], Awaitable[Sequence[Any]]]  # discovery's hubs (id, state, heartbeat_age_s, running)
PlacementOf = Callable[[str], Awaitable[dict[str, Any]]]  # a member's hub, as discovery's /me answers it


class PortalPages:
    def __init__(self, addresses: Addresses, engine: Engine, identity: Identity, hubs: HubStates,
                 placement_of: PlacementOf, profiles: list[Profile]):
        self.addresses = addresses
        self.profiles = profiles
        self.engine = engine
        self.identity = identity
        self.hubs = hubs
        self.placement_of = placement_of
        self.started = time.monotonic()

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, name="home"),
            Route("/healthz", self.healthz, name="healthz"),
            Route("/api/status", self.status_json, name="status"),
            Route("/research", self.research, name="research"),
            Route("/research/lab", self.research_lab, name="research_lab"),
            Route(SIGNED_OUT_PATH, self.signed_out_of_jupyterlab, name="signed_out"),
        ]

    async def _status(self) -> dict[str, Any]:
        database = await run_in_threadpool(_database_status, self.engine)
        return {
            "ok": database["ok"],
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "database": database,
            "hub_origin": self.addresses.hub_origin,  # from the configuration only, never the request's Host
            "members": self.addresses.members_report(),
        }

    async def _hub_states(self) -> list[Any] | str:
        """Each hub as discovery last heard from it (its heartbeats), or why that is unknown now."""
        try:
            return list(await self.hubs())
        except Exception as exc:  # discovery's database is down: the card says so
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    async def home(self, request: Request) -> Response:
        """The home page; for an admin, the lab's health from real checks (the database answering now, each
        hub's last heartbeat), which nobody else is shown."""
        try:
            session = await self.identity.session_of(request)
        except SQLAlchemyError:  # the database is down: the page says so below, signed out
            session = None
        admin = session is not None and session.account.is_admin
        return render(request, "home.html", session=session, status=await self._status() if admin else None,
                      hubs=await self._hub_states() if admin else None)

    async def research(self, request: Request) -> Response:
        """The member's JupyterLab, framed in the portal. When the page knows the member's hub, its frame
        leaves for JupyterLab while the page is still parsed, and research.js then asks the hub whether the
        server runs (a warm visit saves that round trip and the page's own load); research.js asks
        discovery itself when the page could not say (no hub up, the database down)."""
        session = await self.identity.session_of(request)
        if session is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)
        open_path, refused = _open_path(request)
        try:
            placement = await self.placement_of(session.account.username)
        except Exception:  # NoHub, or the database: the page's own /me call says why
            placement = None
        lab = request.url_for("research_lab").path + (f"?{urlencode({'open': open_path})}" if open_path else "")
        profiles = available(self.profiles, session.account.groups)
        return render(request, "research.html", session=session, hub_origin=self.addresses.hub_origin,
                      refused_open=refused, placement=placement, lab=lab,
                      framed=placement is not None and placement["state"] != "suspect",
                      profiles=profiles if len(profiles) > 1 else [],
                      limits_enforced=await self._limits_enforced(placement))

    async def _limits_enforced(self, placement: dict[str, Any] | None) -> bool:
        """Whether the member's hub enforces a server's size (every spawner but the local one does)."""
        try:
            hubs = {hub.id: hub for hub in await self.hubs()} if placement else {}
        except Exception:  # the database: say nothing rather than something wrong
            return True
        hub = hubs.get(placement["hub"]) if placement else None
        return hub is None or hub.isolation != "none"

    async def research_lab(self, request: Request) -> Response:
        """Where the Research page's frame goes for JupyterLab (at ``?open=<path>``): the member's hub's
        user-redirect, which leads to their server when it runs and else to the hub's page saying it does
        not (appliance.hub.lockdown). The one place that address is made, for the page's first frame and
        for research.js after a move to another hub alike."""
        session = await self.identity.session_of(request)
        if session is None:
            return RedirectResponse(f"/login?{urlencode({'next': '/research'})}", status_code=303)
        open_path, _ = _open_path(request)
        try:
            placement = await self.placement_of(session.account.username)
        except Exception:  # NoHub, or the database: the Research page says why and sends the frame again
            return PlainTextResponse("Discovery could not place you on a hub just now; the Research page tries "
                                     "again in a few seconds.", status_code=503, headers={"Cache-Control": "no-store"})
        target = "lab/tree/" + quote(open_path) if open_path else "lab"
        return RedirectResponse(self.addresses.user_redirect(placement["hub"], target), status_code=303,
                                headers={"Cache-Control": "no-store"})

    async def signed_out_of_jupyterlab(self, request: Request) -> Response:
        """Where a hub's logout ends (JupyterLab's File > Log Out): the hub session is over, and the portal's
        ends too. Inside the Research page's frame, signed-out.js asks the Research page to submit its own
        sign-out form (which carries the CSRF token); anywhere else the page offers a Sign out button. Only
        the portal's own pages may frame it: a page elsewhere cannot make it sign anyone out."""
        session = await self.identity.session_of(request)
        response = render(request, "signed-out.html", session=session)
        response.headers["Content-Security-Policy"] = SIGNED_OUT_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def healthz(self, request: Request) -> Response:
        """Liveness of the portal process itself; the database's state is in /api/status."""
        return PlainTextResponse("ok")

    async def status_json(self, request: Request) -> Response:
        status = await self._status()
        return JSONResponse(status, status_code=200 if status["ok"] else 503)
