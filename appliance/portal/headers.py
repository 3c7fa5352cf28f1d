"""The headers every portal response carries, the Content-Security-Policy among them.

The policy lets portal pages run only the portal's own script files (no inline script, no plugins,
no <base>), frame only the hub origin, members' hosts under it and the portal itself (the frame's
hub sign-in passes through /oauth/authorize), be framed by nobody, and send
forms only to the portal itself and the hub origin: in Chromium form-action also covers the
redirects that follow a form's POST, and signing in for a hub ends in a redirect to the hub's OAuth
callback. A page whose form leads elsewhere (the consent page of a third-party client) names that
origin with ``appliance.web.allow_form_target``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.proxy import STRICT_TRANSPORT_SECURITY
from appliance.web import FORM_TARGETS

OTHER_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
CSP = b"content-security-policy"
HSTS = (b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode())


def content_security_policy(hub_origin: str, member_origins: str | None, form_targets: Iterable[str] = ()) -> str:
    """``member_origins``: the pattern of members' own hosts (``https://*.hub.lab.example.org``), or None
    where members share the hub origin (hub.addresses.member_origins)."""
    # the Research frame passes through the portal itself: the hub's sign-in goes by /oauth/authorize
    frames = ["'self'", hub_origin, *([member_origins] if member_origins else [])]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": list(dict.fromkeys(["'self'", hub_origin, *form_targets])),
        "frame-src": frames,
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class SecurityHeaders:
    """Every portal response: the Content-Security-Policy, no framing, no sniffing; over HTTPS, HSTS.
    A header the response set itself is left as it is."""

    def __init__(self, app: ASGIApp, hub_origin: str, member_origins: str | None):
        self.app = app
        self.hub_origin, self.member_origins = hub_origin, member_origins
        self.policy = content_security_policy(hub_origin, member_origins).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with the endpoint's request.state

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                targets = state.get(FORM_TARGETS)
                policy = self.policy if not targets else content_security_policy(
                    self.hub_origin, self.member_origins, targets).encode()
                wanted = [(CSP, policy), *OTHER_HEADERS, *([HSTS] if scope["scheme"] == "https" else [])]
                headers.extend((name, value) for name, value in wanted if name not in names)
            await send(message)

        await self.app(scope, receive, send_with_headers)
