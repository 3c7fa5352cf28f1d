"""The portal is the only place that manages people: on a real hub (trial names, the front proxy), a
member and a portal administrator alike are refused creating and deleting hub users, shutting the hub
down and minting API tokens, with their browser's hub cookies and with their JupyterLab's own token
(what a colleague's page would try to take), and the hub's admin and token pages send them to the portal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from appliance.hub import addresses
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import start_server
from tests.integration.oauth import add_user, browser_client, sign_in

FORBIDDEN = {403, 404}
BEYOND_A_MEMBER = re.compile(r"^(admin|shutdown|proxy|tokens|read:tokens|shares|read:shares|users:shares|"
                             r"delete:users|list:)")


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(scope="module")
def colleague(lab: Appliance) -> str:
    """A member known to the hub (signed in through it once), whom nobody else may delete."""
    password = placed(lab, "grete")
    with browser_client() as browser:
        start_server(lab, hub_url(lab), "grete", password, browser)
    return "grete"


def placed(lab: Appliance, name: str, *add_args: str) -> str:
    """A new account that discovery placed on hub 1 (the only one); returns its password."""
    password = add_user(lab, name, *add_args)
    with browser_client(base_url=lab.public_portal_url) as portal:
        assert sign_in(portal, lab.public_portal_url, name, password).status_code == 303
        assert portal.get("/api/discovery/v1/me").json()["hub"] == "1"
    return password


def hub_url(lab: Appliance) -> str:
    return f"{lab.proxy_url}/hubs/1"


def hub_users(lab: Appliance) -> set[str]:
    """The users in hub 1's own database."""
    engine = create_engine(make_url(lab.database_url()).set(database=addresses.database_name("1")))
    try:
        with engine.connect() as connection:
            return {row.name for row in connection.execute(text("SELECT name FROM users"))}
    finally:
        engine.dispose()


def lab_token(jupyterlab_page: str) -> str:
    """The hub API token JupyterLab's page hands to its scripts (and to anything else on its origin)."""
    config = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', jupyterlab_page,
                       re.DOTALL)
    assert config, jupyterlab_page[:2000]
    token: str = json.loads(config.group(1))["token"]
    return token


def attempts(hub: str, me: str, colleague: str) -> list[tuple[str, str, dict[str, object] | None]]:
    """(method, URL, JSON body) of everything a member must not do on a hub."""
    return [
        ("POST", f"{hub}/hub/api/users", {"usernames": ["intruder"]}),
        ("POST", f"{hub}/hub/api/users/intruder", {}),
        ("DELETE", f"{hub}/hub/api/users/{colleague}", None),
        ("DELETE", f"{hub}/hub/api/users/{me}", None),
        ("PATCH", f"{hub}/hub/api/users/{me}", {"admin": True}),
        ("POST", f"{hub}/hub/api/users/{me}/tokens", {"note": "mine", "expires_in": 3600}),
        ("POST", f"{hub}/hub/api/users/{colleague}/tokens", {"note": "theirs"}),
        ("POST", f"{hub}/hub/api/shutdown", {}),
    ]


@pytest.mark.parametrize("role", ["member", "admin"])
def test_nobody_on_a_hub_creates_or_deletes_users_shuts_it_down_or_mints_tokens(
        lab: Appliance, colleague: str, role: str) -> None:
    me = f"{role}-lin"
    password = placed(lab, me, *(["--admin"] if role == "admin" else []))
    hub = hub_url(lab)
    with browser_client() as browser, httpx.Client(timeout=30) as bare:
        token = lab_token(start_server(lab, hub, me, password, browser).text)
        home = browser.get(f"{hub}/hub/home")
        assert home.status_code == 200 and 'hub/token"' not in home.text and 'hub/admin"' not in home.text
        xsrf = browser.cookies.get("_xsrf", path="/hubs/1/hub/")
        assert xsrf, list(browser.cookies.jar)
        answers = {}
        for method, url, body in attempts(hub, me, colleague):
            answers[f"{method} {url} (cookies)"] = browser.request(
                method, url, json=body, headers={"X-XSRFToken": xsrf, "Referer": f"{hub}/hub/home"})
            answers[f"{method} {url} (JupyterLab's token)"] = bare.request(
                method, url, json=body, headers={"Authorization": f"token {token}"})
        allowed = {what: (answer.status_code, answer.text[:200]) for what, answer in answers.items()
                   if answer.status_code not in FORBIDDEN}
        assert not allowed, allowed

        me_on_hub = browser.get(f"{hub}/hub/api/user", headers={"X-XSRFToken": xsrf}).json()
        assert me_on_hub["admin"] is False and me_on_hub["roles"] == ["user"], me_on_hub
        token_scopes = bare.get(f"{hub}/hub/api/user", headers={"Authorization": f"token {token}"}).json()["scopes"]
        for scope in [*me_on_hub["scopes"], *token_scopes]:  # their own things only, and no token or share
            assert scope.endswith((f"!user={me}", f"!server={me}/")) and not BEYOND_A_MEMBER.match(scope), scope
        for page in ("admin", "token"):
            gone = browser.get(f"{hub}/hub/{page}")
            assert gone.status_code == 404, (page, gone.status_code)
            assert "managed in the lab&#39;s portal" in gone.text or "managed in the lab's portal" in gone.text
            assert f'href="{lab.public_portal_url}/"' in gone.text
    users = hub_users(lab)
    assert "intruder" not in users and {colleague, me} <= users
    assert httpx.get(f"{hub}/hub/api/", timeout=10).status_code == 200  # the hub is still up


def test_user_redirect_leads_only_into_the_members_own_server(lab: Appliance) -> None:
    password = placed(lab, "ulla")
    hub = hub_url(lab)
    with browser_client() as browser:
        server = str(start_server(lab, hub, "ulla", password, browser).url.copy_with(query=None)).removesuffix("lab")
        for path, lands in [("lab/tree/a.ipynb", "lab/tree/a.ipynb"), ("/evil.example/x", "evil.example/x"),
                            ("%2F%2Fevil.example", "evil.example")]:
            sent = browser.get(f"{hub}/hub/user-redirect/{path}", follow_redirects=False)
            assert sent.status_code == 302 and sent.headers["location"] == server + lands, sent.headers
        for climbing in ("..%2F..%2Fuser%2Fgrete%2Flab", "lab/..%2F..%2F..%2Fhub%2Flogout"):
            refused = browser.get(f"{hub}/hub/user-redirect/{climbing}", follow_redirects=False)
            assert refused.status_code == 400 and "climbs out of your server" in refused.text, refused.status_code
