"""An OAuth client and a signed-in browser, written out by hand for the tests (no library magic)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from tests.harness import Appliance


class BrowserCookieJar(http.cookiejar.CookieJar):
    """Sends Secure cookies to *.localhost names over plain HTTP, as browsers do: they count those names
    as secure contexts (the trial names' portal cookie is ``__Host-``, hence Secure). httpx copies the
    cookies into a jar of its own for each request, so the cookie itself is stored as not Secure."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        if cookie.domain.lower().lstrip(".") == "localhost" or cookie.domain.lower().endswith(".localhost"):
            cookie.secure = False
        super().set_cookie(cookie)


def browser_client(**options: Any) -> httpx.Client:
    """An HTTP client with a browser's cookie jar that follows no redirect by itself."""
    options.setdefault("timeout", 30)
    return httpx.Client(cookies=BrowserCookieJar(), follow_redirects=False, **options)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*? value="([^"]*)"', page)
    assert match, f"no {name} field in the page"
    return html.unescape(match.group(1))


def add_user(appliance: Appliance, username: str, *args: str) -> str:
    """Create an account with the CLI; returns its generated password."""
    result = appliance.cli("users", "add", username, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().rsplit(" ", 1)[-1]


def sign_in(client: httpx.Client, portal: str, username: str, password: str, next_path: str = "/") -> httpx.Response:
    """Sign in at the portal's login form as a person would; the answer is 303 when it worked."""
    page = client.get(f"{portal}/login", params={"next": next_path})
    return client.post(f"{portal}/login", headers={"Origin": portal}, data={
        "username": username, "password": password, "next": next_path,
        "csrf_token": form_value(page.text, "csrf_token")})


def signs_in_afresh(portal: str, username: str, password: str) -> bool:
    """Whether a new browser signs in at ``portal`` and is shown the home page, as a person arriving would."""
    with browser_client() as browser:
        return (sign_in(browser, portal, username, password).status_code == 303
                and browser.get(f"{portal}/").status_code == 200)


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uri: str


def register_client(appliance: Appliance, client_id: str, redirect_uri: str, *args: str) -> Client:
    result = appliance.cli("clients", "add", client_id, "--redirect-uri", redirect_uri, "--json", *args)
    assert result.returncode == 0, result.stderr
    return Client(client_id, json.loads(result.stdout)["client_secret"], redirect_uri)


class Browser:
    """A cookie jar that signs in to the portal like a person would. Closed after each test."""

    opened: list[Browser] = []

    def __init__(self, appliance: Appliance):
        self.portal = appliance.public_portal_url
        self.http = browser_client(base_url=self.portal, headers={"Origin": self.portal})
        Browser.opened.append(self)

    @classmethod
    def close_all(cls) -> None:
        while cls.opened:
            cls.opened.pop().http.close()

    def sign_in(self, username: str, password: str, next_path: str = "/") -> httpx.Response:
        return sign_in(self.http, self.portal, username, password, next_path)

    def authorize(self, client: Client, **overrides: str) -> httpx.Response:
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
                  "scope": "openid profile email groups", "state": "xyz", "code_challenge": challenge,
                  "code_challenge_method": "S256", **overrides}
        response = self.http.get("/oauth/authorize", params={k: v for k, v in params.items() if v is not None})
        response.extensions["verifier"] = verifier
        return response

    def code_for(self, client: Client, **overrides: str) -> tuple[str, str]:
        """Authorize and return (code, verifier); the browser must be signed in."""
        response = self.authorize(client, **overrides)
        assert response.status_code == 302, response.text[:500]
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["state"] == ["xyz"]
        return query["code"][0], response.extensions["verifier"]


def exchange(appliance: Appliance, client: Client, code: str, verifier: str | None,
             **overrides: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri,
            "client_id": client.client_id, "client_secret": client.secret, "code_verifier": verifier, **overrides}
    return httpx.post(appliance.portal_url + "/oauth/token", data={k: v for k, v in data.items() if v is not None})


def refresh(appliance: Appliance, client: Client, refresh_token: str) -> httpx.Response:
    return httpx.post(appliance.portal_url + "/oauth/token", auth=(client.client_id, client.secret),
                      data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(appliance: Appliance, access_token: str) -> httpx.Response:
    return httpx.get(appliance.portal_url + "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def query_of(response: httpx.Response) -> dict[str, Any]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


__all__ = ["urlencode"]


def log_in_through_hub(appliance: Appliance, hub_url: str, username: str, password: str,
                       browser: httpx.Client | None = None) -> httpx.Response:
    """A browser's whole OAuth dance with one cookie jar (``browser``'s, or a new one): hub → portal
    authorize → login → authorize → hub callback. Returns the hub's last answer (a redirect to the
    member's server when admitted)."""
    with contextlib.ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(browser_client())
        return oauth_dance(appliance.public_portal_url, hub_url, username, password, browser)


def oauth_dance(portal: str, hub_url: str, username: str, password: str, browser: httpx.Client) -> httpx.Response:
    response = browser.get(f"{hub_url}/hub/oauth_login")
    for _ in range(10):
        if response.status_code not in (302, 303):
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(f"{portal}/login"):
            page = browser.get(location)
            response = browser.post(f"{portal}/login", headers={"Origin": portal}, data={
                "username": username, "password": password, "next": form_value(page.text, "next"),
                "csrf_token": form_value(page.text, "csrf_token")})
            continue
        if location.startswith(f"{hub_url}/hub/spawn") or location.startswith(f"{hub_url}/hub/home"):
            return response  # signed in: the hub now sends the member to their server
        response = browser.get(location)
    raise AssertionError("too many redirects")


def follow(client: httpx.Client, url: str, timeout: float = 60, poll_s: float = 0.3) -> httpx.Response:
    """GET ``url`` and follow redirects as a browser would, waiting out the hub's spawn-pending page."""
    deadline = time.monotonic() + timeout
    response = client.get(url)
    while time.monotonic() < deadline:
        if response.status_code in (301, 302, 303):
            response = client.get(urljoin(str(response.url), response.headers["location"]))
        elif "spawn-pending" in str(response.url):
            time.sleep(poll_s)
            response = client.get(str(response.url).replace("/spawn-pending/", "/user/").split("?")[0])
        else:
            return response
    raise AssertionError(f"{url} did not settle within {timeout} s")
