"""Only the front proxy may say who the client is and whether it came over HTTPS.

uvicorn's own proxy_headers trusts every loopback client, and under the local spawner members'
kernels are loopback clients: they could send X-Forwarded-For to dodge the per-address sign-in
lock-out (or lock out an address they name) and X-Forwarded-Proto to pass for HTTPS. The front
proxy (configurable-http-proxy) cannot mark itself: it has no Unix-socket targets on Node 18, and
a custom header would go to members' servers too. What tells it apart is its uid: the proxy and the
hubs run as the appliance's own user, members' servers as users of their own. So the forwarded
headers are honoured only when the TCP peer is a loopback socket owned by this process's uid, and
removed from every other request.

The proxy *appends* its hop to whatever the client sent (``X-Forwarded-For: <client's>,<real>``),
so only the last value of each header is the proxy's own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from ipaddress import ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

from appliance.portal.peers import client_uid, is_loopback

FORWARDED_FOR, FORWARDED_PROTO = b"x-forwarded-for", b"x-forwarded-proto"
SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}

Owner = Callable[[tuple[str, int], tuple[str, int]], "int | None"]


def is_forwarding_header(name: bytes) -> bool:
    return name.startswith(b"x-forwarded-") or name == b"forwarded"


def last_value(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The last comma-separated value over every header line of that name: the proxy's own hop."""
    values = [value.decode("latin-1") for key, value in headers if key == name]
    return ",".join(values).rsplit(",", 1)[-1].strip() if values else ""


class TrustedProxyHeaders:
    """Apply X-Forwarded-For/-Proto from the front proxy to the scope's client and scheme; drop every
    forwarding header of anyone else (and of the proxy too, once applied)."""

    def __init__(self, app: ASGIApp, trusted_uid: int | None = None, owner: Owner = client_uid):
        self.app = app
        self.trusted_uid = os.geteuid() if trusted_uid is None else trusted_uid
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in SCHEMES and any(is_forwarding_header(name) for name, _ in scope["headers"]):
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        kept = [(name, value) for name, value in headers if not is_forwarding_header(name)]
        scope = {**scope, "headers": kept}
        if not self.from_front_proxy(scope):
            return scope
        proto = last_value(headers, FORWARDED_PROTO).lower()
        if proto in SCHEMES[scope["type"]]:
            scope["scheme"] = SCHEMES[scope["type"]][proto]
        address = last_value(headers, FORWARDED_FOR)
        with contextlib.suppress(ValueError):  # no address (or not one): the proxy's own stands
            scope["client"] = (str(ip_address(address)), 0)
        return scope

    def from_front_proxy(self, scope: Scope) -> bool:
        """On the event loop: the kernel's netlink look-up takes ~20 µs (peers.client_uid), less than a
        hop to a worker thread (only its /proc fallback, where the kernel lacks sock_diag, takes ms)."""
        client, server = scope.get("client"), scope.get("server")
        if not client or not server or not is_loopback(client[0]):
            return False
        return self.owner((client[0], client[1]), (server[0], server[1])) == self.trusted_uid
