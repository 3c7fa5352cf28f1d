"""Where a response's forms may lead: the portal's Content-Security-Policy (portal/headers.py) names the
portal and the hub origin in ``form-action``; a page whose form leads elsewhere (the consent page of a
third-party client) adds that origin here, for its own response only."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

FORM_TARGETS = "csp_form_targets"  # request.state: origins this response's forms may lead to


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def allow_form_target(request: Request, url: str) -> None:
    """Let this response's forms lead to ``url``'s origin (directly or by a redirect after the POST)."""
    targets: list[str] | None = getattr(request.state, FORM_TARGETS, None)
    if targets is None:
        targets = []
        setattr(request.state, FORM_TARGETS, targets)
    targets.append(origin_of(url))
