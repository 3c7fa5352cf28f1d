"""The portal's web hardening, in-process: its real app (lifespan included) through httpx.ASGITransport,
on the PostgreSQL of a running appliance. The script policy on every page, sign-out that needs its
CSRF token, and only the configured host names answered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from appliance.application.portal import make_app
from appliance.config import load_config
from appliance.hub.addresses import SIGNED_OUT_PATH
from tests.harness import Appliance
from tests.integration.oauth import add_user, form_value, register_client


@pytest.fixture
async def portal(portal_in_process: Appliance) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the portal app built here from the appliance's configuration."""
    app = make_app(load_config(environ=portal_in_process.env))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url=portal_in_process.portal_url,
            headers={"Origin": portal_in_process.portal_url}) as client:
        yield client


async def sign_in(portal: httpx.AsyncClient, appliance: Appliance, next_path: str = "/") -> str:
    username = f"w{uuid.uuid4().hex[:10]}"
    password = add_user(appliance, username)
    page = await portal.get("/login", params={"next": next_path})
    signed_in = await portal.post("/login", data={"username": username, "password": password, "next": next_path,
                                                  "csrf_token": form_value(page.text, "csrf_token")})
    assert signed_in.status_code == 303, signed_in.text[:500]
    return username


def directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


# ----- Content-Security-Policy ----------------------------------------------------------------------

async def test_every_page_carries_the_script_policy(portal_in_process: Appliance,
                                                    portal: httpx.AsyncClient) -> None:
    hubs = load_config(environ=portal_in_process.env).addresses.hub_origin
    signed_out = [await portal.get(path) for path in ("/", "/login", "/api/status", "/no-such-page",
                                                      "/static/app.css", "/healthz")]
    await sign_in(portal, portal_in_process)
    signed_in = [await portal.get(path) for path in ("/", "/research", "/account/password", "/research?open=..")]
    for response in signed_out + signed_in:
        policy = directives(response)
        assert policy["script-src"] == ["'self'"], response.url
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], response.url
        assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'", hubs], response.url
        assert hubs in policy["frame-src"], response.url
    research = signed_in[1]
    assert research.status_code == 200 and f'data-hub-origin="{hubs}"' in research.text


async def test_only_the_portal_may_frame_the_signed_out_page_whose_form_signs_out(
        portal_in_process: Appliance, portal: httpx.AsyncClient) -> None:
    alone = await portal.get(SIGNED_OUT_PATH)
    assert alone.status_code == 200 and "signed out of JupyterLab and of the portal" in alone.text
    await sign_in(portal, portal_in_process)
    page = await portal.get(SIGNED_OUT_PATH)  # where a hub's logout ends, in the Research page's frame
    policy = directives(page)
    assert policy["frame-ancestors"] == ["'self'"] and page.headers["x-frame-options"] == "SAMEORIGIN"
    assert policy["script-src"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert "/static/signed-out.js" in page.text and "Signed in as" in page.text
    signed_out = await portal.post("/logout", data={"csrf_token": form_value(page.text, "csrf_token")})
    assert signed_out.status_code == 303 and "Signed in as" not in (await portal.get("/")).text


async def test_the_consent_form_may_lead_to_its_clients_callback_only(portal_in_process: Appliance,
                                                                      portal: httpx.AsyncClient) -> None:
    callback = "https://plots.example.com/oauth/callback"
    client = register_client(portal_in_process, f"plots-{uuid.uuid4().hex[:6]}", callback, "--name", "Plots")
    await sign_in(portal, portal_in_process)
    consent = await portal.get("/oauth/authorize", params={
        "client_id": client.client_id, "redirect_uri": callback, "response_type": "code", "scope": "openid",
        "state": "s", "code_challenge": "x" * 43, "code_challenge_method": "S256"})
    assert consent.status_code == 200 and "Allow Plots to sign you in?" in consent.text
    assert directives(consent)["form-action"][-1] == "https://plots.example.com"
    assert "https://plots.example.com" not in directives(await portal.get("/"))["form-action"]


async def test_signing_in_for_a_first_party_client_may_lead_to_its_callback(portal_in_process: Appliance,
                                                                            portal: httpx.AsyncClient) -> None:
    callback = "http://grafana.lab.example.org/login/generic_oauth"
    client = register_client(portal_in_process, f"grafana-{uuid.uuid4().hex[:6]}", callback, "--first-party")
    authorize = httpx.URL("/oauth/authorize", params={"client_id": client.client_id, "redirect_uri": callback})
    login = await portal.get("/login", params={"next": str(authorize)})
    assert directives(login)["form-action"][-1] == "http://grafana.lab.example.org"
    unregistered = httpx.URL("/oauth/authorize", params={"client_id": client.client_id,
                                                         "redirect_uri": "http://evil.example/"})
    login = await portal.get("/login", params={"next": str(unregistered)})
    assert "http://evil.example" not in directives(login)["form-action"]


# ----- sign-out -------------------------------------------------------------------------------------

async def test_sign_out_without_its_csrf_token_changes_nothing(portal_in_process: Appliance,
                                                               portal: httpx.AsyncClient) -> None:
    username = await sign_in(portal, portal_in_process)
    home = await portal.get("/")
    assert f"Signed in as <strong>{username}" in home.text
    cookie = dict(portal.cookies)

    # a cross-site form: SameSite=Lax leaves the cookie behind, so the portal sees no session
    portal.cookies.clear()
    cross_site = await portal.post("/logout", headers={"Origin": "http://evil.example"}, data={})
    portal.cookies.update(cookie)
    assert cross_site.status_code == 303 and "set-cookie" not in cross_site.headers
    # the cookie, with a missing or foreign token, or from another origin
    for data, origin in (({}, portal_in_process.portal_url),
                         ({"csrf_token": "forged"}, portal_in_process.portal_url),
                         ({"csrf_token": form_value(home.text, "csrf_token")}, "http://evil.example")):
        refused = await portal.post("/logout", data=data, headers={"Origin": origin})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert f"Signed in as <strong>{username}" in (await portal.get("/")).text  # the session still stands

    signed_out = await portal.post("/logout", data={"csrf_token": form_value(home.text, "csrf_token")})
    assert signed_out.status_code == 303
    assert signed_out.headers["set-cookie"].startswith('appliance_session=""')
    portal.cookies.update(cookie)  # the old cookie, kept by an attacker, opens nothing any more
    assert "Signed in as" not in (await portal.get("/")).text


# ----- host names -----------------------------------------------------------------------------------

async def test_a_foreign_host_gets_400_and_no_page(portal_in_process: Appliance, portal: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/research", "/.well-known/openid-configuration"):
        refused = await portal.get(path, headers={"Host": "evil.example"})
        assert refused.status_code == 400, path
        assert "evil.example" not in refused.text and "csrf_token" not in refused.text, path
        assert "portal.public_url" in refused.text
    status = await portal.get("/api/status", headers={"Host": f"evil.example:{portal_in_process.portal_port}"})
    assert status.status_code == 400 and status.json()["ok"] is False

    for host in (f"127.0.0.1:{portal_in_process.portal_port}", f"localhost:{portal_in_process.portal_port}"):
        answered = await portal.get("/api/status", headers={"Host": host})
        assert answered.status_code == 200 and "evil" not in answered.text, host
