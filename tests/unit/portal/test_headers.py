"""The portal's Content-Security-Policy, built from the hub origin."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from appliance.webui import TEMPLATES
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from appliance.portal.headers import SecurityHeaders, content_security_policy
from appliance.web import allow_form_target


def directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


def test_policy_allows_own_scripts_only_and_frames_the_hub_origin() -> None:
    policy = directives(content_security_policy("https://hub.lab.example.org", "https://*.hub.lab.example.org"))
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'", "https://hub.lab.example.org"]
    assert policy["frame-src"] == ["'self'", "https://hub.lab.example.org", "https://*.hub.lab.example.org"]
    # on an IP address there are no members' hosts to allow
    assert directives(content_security_policy("http://127.0.0.1:8001", None))["frame-src"] == ["'self'", "http://127.0.0.1:8001"]


async def consent(request: Request) -> Response:
    allow_form_target(request, "https://plots.example.com/callback?x=1")
    return PlainTextResponse("consent")


async def plain_page(request: Request) -> Response:
    return PlainTextResponse("home")


async def test_a_page_names_where_its_form_leads_for_its_own_response_only() -> None:
    app = Starlette(routes=[Route("/consent", consent), Route("/", plain_page)],
                    middleware=[Middleware(SecurityHeaders, hub_origin="http://hub.lab.localhost:8001",
                                           member_origins="http://*.hub.lab.localhost:8001")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://lab.localhost:8001") as http:
        consent_page, home = await http.get("/consent"), await http.get("/")
    assert directives(consent_page.headers["content-security-policy"])["form-action"] == [
        "'self'", "http://hub.lab.localhost:8001", "https://plots.example.com"]
    assert directives(home.headers["content-security-policy"])["form-action"] == [
        "'self'", "http://hub.lab.localhost:8001"]
    assert home.headers["x-frame-options"] == "DENY" and "strict-transport-security" not in home.headers


def test_no_template_has_inline_script() -> None:
    """script-src 'self' blocks inline scripts and event-handler attributes: every script is a file in
    webui/static."""
    for template in Path(TEMPLATES).glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name
        assert "javascript:" not in html, template.name
