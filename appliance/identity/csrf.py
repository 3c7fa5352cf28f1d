"""CSRF protection for the portal's forms: an HMAC token bound to the session, and an Origin check.

Signed-in forms bind the token to the session; the sign-in form binds it to a random pre-session
cookie. The Origin (or Referer) check stops a page on another origin, the hub origin included,
from posting a token it obtained for itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

PRESESSION_COOKIE = "appliance_presession"


class CsrfSigner:
    def __init__(self, secret: str):
        self._key = secret.encode()

    def token(self, binding: str | bytes) -> str:
        data = binding if isinstance(binding, bytes) else binding.encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, data, hashlib.sha256).digest()).decode().rstrip("=")

    def check(self, binding: str | bytes, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.token(binding), token or "")


def same_origin(request: Request) -> bool:
    """True when the request's Origin (or, lacking it, its Referer) is the portal's own origin."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"
