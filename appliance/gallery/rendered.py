"""The render host: rendered notebooks (untrusted HTML) and the assets they load, served by the portal
process on a host of its own (hub.addresses.render_origin, ``0-render.<hub host>``).

Only two paths answer there: ``/gallery/rendered/<slug>/v/<n>`` and ``/gallery/assets/…``; anything else
is 404, and no response there ever sets a cookie. A rendered page's own response carries its sandbox
(RENDER_POLICY), so it is contained even when opened directly rather than framed by the publication page.
Where members are not isolated (a bare address) there is no render host: the same routes are on the
portal's origin, still sandboxed.

Nobody is signed in on the render host (no cookie reaches it), so a rendered page is reachable only by a
signed link that the portal's publication page makes for a viewer who may see the publication
(``RenderLinks.url``), valid for LINK_LIFETIME_S: a member outside a group, or anybody off the lab, cannot
open a render by guessing or sharing its path. A hidden or unpublished publication's render is 404
whatever the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.gallery.assets import ASSETS_PATH
from appliance.webui import GALLERY_ASSETS

RENDER_LINK_SECRET = "gallery-render-links"  # the home's secret that signs links to renders
LINK_LIFETIME_S = 3600
RENDERED_PATH = "/gallery/rendered"
# a rendered version never changes, but a rerender, a hide or an unpublish must show at once: the browser
# keeps it and asks again each time (a 304 from the ETag costs one indexed query)
RENDER_CACHE = "private, no-cache"
ASSETS_CACHE = "public, max-age=604800"  # MathJax and its fonts change only with an upgrade of the appliance
DEFAULT_PORTS = {"http": 80, "https": 443}


def render_policy(render_origin: str, portal_origin: str) -> str:
    """The sandbox of a rendered page: its script runs in an opaque origin (no cookies, no storage, no
    same-origin access to anything), loads only the render host's assets, connects nowhere, submits no
    form, frames nothing and is framed only by the portal. 'unsafe-inline' and 'unsafe-eval' are what
    notebook outputs (plotly, bokeh, inline script) need; the sandbox is what contains them.

    No ``allow-popups``: a popup goes wherever the page's script says, with whatever it put in the URL
    (in Chromium a notebook's ``window.open`` reached an outside listener with it), and nothing in a
    policy can bound where. Framed by the portal, the page cannot navigate itself away either (the
    portal's frame-src); a link in a notebook opens from the viewer's own context menu."""
    directives = {
        "sandbox": "allow-scripts",
        "default-src": "'none'",
        "script-src": f"{render_origin} 'unsafe-inline' 'unsafe-eval'",
        "style-src": f"{render_origin} 'unsafe-inline'",  # MathJax writes its CSS into a <style> element
        "img-src": f"{render_origin} data: blob:",
        "font-src": f"{render_origin} data:",
        "connect-src": "'none'",
        "form-action": "'none'",
        "frame-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": portal_origin,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class RenderLinks:
    """Signed, expiring links to rendered versions: the portal makes one for a viewer it let see the
    publication, the render host checks it."""

    def __init__(self, key: str, render_origin: str, lifetime_s: int = LINK_LIFETIME_S,
                 clock: Callable[[], float] = time.time):
        self.key, self.origin, self.lifetime_s, self.clock = key.encode(), render_origin, lifetime_s, clock

    def url(self, slug: str, number: int) -> str:
        """The absolute URL of ``slug``'s version ``number``, for the publication page's frame."""
        expires = int(self.clock()) + self.lifetime_s
        return (f"{self.origin}{RENDERED_PATH}/{quote(slug, safe='')}/v/{number}"
                f"?expires={expires}&sig={self._signature(slug, number, expires)}")

    def check(self, slug: str, number: int, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < self.clock():
            return False
        return hmac.compare_digest(signature, self._signature(slug, number, int(expires)))

    def _signature(self, slug: str, number: int, expires: int) -> str:
        digest = hmac.new(self.key, f"{slug}\n{number}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()


@dataclass(frozen=True)
class RenderedPage:
    version_id: int
    html_z: bytes  # zlib-compressed, as the renderer stored it
    rendered_at: datetime


class RenderedVersions:
    """The one read the render host makes: a visible version's stored render."""

    QUERY = text(
        "SELECT v.id, v.html, v.rendered_at FROM gallery.publications p"
        " JOIN gallery.versions v ON v.publication_id = p.id AND v.number = :number"
        " WHERE p.slug = :slug AND p.hidden_at IS NULL AND p.unpublished_at IS NULL AND v.html IS NOT NULL")

    def __init__(self, engine: Engine):
        self.engine = engine

    def find(self, slug: str, number: int) -> RenderedPage | None:
        with self.engine.connect() as connection:
            row = connection.execute(self.QUERY, {"slug": slug, "number": number}).one_or_none()
        return RenderedPage(row.id, bytes(row.html), row.rendered_at) if row is not None else None


class RenderedNotebooks:
    """The render routes, on the render host (``host_app``) or, with no render host, on the portal's origin
    (``portal_routes``)."""

    def __init__(self, find: Callable[[str, int], RenderedPage | None], links: RenderLinks, portal_origin: str,
                 assets: Path = GALLERY_ASSETS):
        self.find, self.links, self.portal_origin, self.assets = find, links, portal_origin, assets
        self.separate_host = links.origin != portal_origin
        self.policy = render_policy(links.origin, portal_origin)

    @property
    def hosts(self) -> frozenset[str]:
        """The ``Host:`` values of the render host (none where renders are on the portal's origin)."""
        if not self.separate_host:
            return frozenset()
        origin = urlsplit(self.links.origin)
        host, port = (origin.hostname or "").lower(), origin.port
        names = {f"{host}:{port}"} if port else set()
        return frozenset(names | ({host} if port in (None, DEFAULT_PORTS.get(origin.scheme)) else set()))

    def routes(self) -> list[BaseRoute]:
        assets = StaticFiles(directory=str(self.assets), check_dir=False)
        return [Route(RENDERED_PATH + "/{slug}/v/{number:int}", self.rendered, methods=["GET", "HEAD"]),
                Mount(ASSETS_PATH, app=AssetHeaders(assets))]

    def portal_routes(self) -> list[BaseRoute]:
        return [] if self.separate_host else self.routes()

    def host_app(self) -> ASGIApp:
        return RenderHostHeaders(Starlette(routes=self.routes()))

    async def rendered(self, request: Request) -> Response:
        slug, number = request.path_params["slug"], request.path_params["number"]
        query = request.query_params
        if not self.links.check(slug, number, query.get("expires", ""), query.get("sig", "")):
            return not_found()  # an expired or forged link reveals nothing
        page = await run_in_threadpool(self.find, slug, number)
        if page is None:
            return not_found()
        headers = self.page_headers(page)
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        if "deflate" in request.headers.get("accept-encoding", ""):  # zlib's format is HTTP's "deflate"
            return Response(page.html_z, media_type="text/html; charset=utf-8",
                            headers={**headers, "content-encoding": "deflate"})
        body = await run_in_threadpool(zlib.decompress, page.html_z)
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    def page_headers(self, page: RenderedPage) -> dict[str, str]:
        headers = {"content-security-policy": self.policy, "x-content-type-options": "nosniff",
                   "referrer-policy": "no-referrer", "cache-control": RENDER_CACHE, "vary": "Accept-Encoding",
                   "etag": f'"{page.version_id}-{int(page.rendered_at.timestamp() * 1000)}"'}
        if not self.separate_host:
            headers["x-frame-options"] = "SAMEORIGIN"  # else the portal's DENY; frame-ancestors says the same
        return headers


def not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


class AssetHeaders:
    """Render assets are loaded by sandboxed pages, whose origin is opaque: fonts are fetched in CORS mode,
    so they need ``Access-Control-Allow-Origin: *``."""

    HEADERS = [(b"access-control-allow-origin", b"*"), (b"cache-control", ASSETS_CACHE.encode()),
               (b"cross-origin-resource-policy", b"cross-origin")]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                message.setdefault("headers", []).extend(self.HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RenderHostHeaders:
    """Every response of the render host: never a cookie, no sniffing, no referrer, and a policy that runs
    nothing unless the response brought its own (a rendered page does)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() != b"set-cookie"]
                names = {name.lower() for name, _ in headers}
                wanted = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                          (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")]
                headers.extend((name, value) for name, value in wanted if name not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RenderHost:
    """Portal middleware: a request for the render host goes to its own small app, never to the portal's
    pages (place it before the portal's SecurityHeaders and AllowedHosts)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], render_app: ASGIApp):
        self.app, self.hosts, self.render_app = app, hosts, render_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.hosts:
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if host.decode("latin-1").lower() in self.hosts:
                await self.render_app(scope, receive, send)
                return
        await self.app(scope, receive, send)


def make_rendered(engine: Engine, link_key: str, render_origin: str, portal_origin: str) -> RenderedNotebooks:
    return RenderedNotebooks(RenderedVersions(engine).find, RenderLinks(link_key, render_origin), portal_origin)

