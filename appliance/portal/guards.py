"""Requests the portal refuses before any page sees them: a host name it was not configured with,
and oversized headers.

The portal answers only to the host of its public URL (hub.addresses.portal_origin) and to the loopback names
the appliance's own processes use on the portal's port, so a ``Host:`` a client made up never ends
up in a page, a redirect or a link. Header sizes are bounded twice: uvicorn's h11 parser refuses a
request head still incomplete past MAX_HEADER_BYTES (so memory stays bounded while it arrives; the
httptools parser has no such limit), and HeaderLimits refuses a complete head over either limit,
which h11 accepts when it arrives in one read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from appliance.portal.settings import PortalSettings
from appliance.web import json_message

MAX_HEADER_BYTES = 32 * 1024  # the request line and headers together; browsers send 1-4 KB, Node's limit is 16 KB
MAX_HEADER_COUNT = 100  # browsers send about 20; Apache's LimitRequestFields default
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DEFAULT_PORTS = {"http": 80, "https": 443}


def netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def portal_hosts(public_url: str, settings: PortalSettings, node_address: str = "") -> frozenset[str]:
    """Every ``Host:`` value the portal answers to, lower case: the host of its public URL (see
    hub.addresses.portal_origin), and on its own port the loopback names and the address hub nodes reach it at."""
    public = urlsplit(public_url)
    default = DEFAULT_PORTS.get(public.scheme, 0)
    port, host = public.port or default, (public.hostname or "").lower()
    names = {netloc(host, port)} | ({netloc(host, port).rsplit(":", 1)[0]} if port == default else set())
    local = {*LOOPBACK_NAMES, *([settings.host] if settings.host not in ("", "0.0.0.0", "::") else []),
             *([node_address] if node_address else [])}
    return frozenset(names | {netloc(name.lower(), settings.port) for name in local})


def plain_refusal(scope: Scope, status: int, message: str) -> Response:
    """A refusal without a page: JSON for the API, text for the rest (nothing rendered from the request)."""
    if scope["path"].startswith("/api/"):
        return json_message(message, status)
    return PlainTextResponse(message, status_code=status)


class AllowedHosts:
    """400 for a ``Host:`` the portal was not configured with."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], public_url: str):
        self.app = app
        self.hosts = hosts
        self.message = (f"This portal does not answer to that host name: it is {public_url}. If members reach "
                        "it by another name, an administrator sets that address as portal.public_url.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if host.decode("latin-1").lower() not in self.hosts:
                await plain_refusal(scope, 400, self.message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeaderLimits:
    """431 for a request with more than MAX_HEADER_COUNT headers or a head over MAX_HEADER_BYTES."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = len(scope.get("raw_path") or b"") + len(scope["query_string"]) + sum(
                len(name) + len(value) + 4 for name, value in headers)
            if len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES:
                message = (f"The request's headers are too large ({len(headers)} headers, {size} bytes; at most "
                           f"{MAX_HEADER_COUNT} and {MAX_HEADER_BYTES} bytes). Clear this site's cookies if "
                           "it persists.")
                await plain_refusal(scope, 431, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)
