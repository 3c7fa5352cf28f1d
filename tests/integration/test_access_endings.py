"""Ending a member's access ends it everywhere within 5 s: after a sign-out, a disable or a password
change (by the member or by an administrator), the old browser's JupyterLab and hub pages, the server's
storage token and the member's OAuth access and refresh tokens are all refused. A disable also stops the
server; after a sign-out or a password change the running server renews its storage token from its hub,
so the member's next sign-in finds it working."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness import Appliance
from tests.integration.lab import Member, server_url, start_server, user_servers
from tests.integration.oauth import (
    Browser,
    Client,
    browser_client,
    exchange,
    form_value,
    refresh,
    register_client,
    userinfo,
)
from tests.integration.storage_client import StorageCaller

WITHIN_S = 5.0  # the bound, from the moment the action returned
REFUSED_PAGE = (302, 303, 401, 403)
GONE = 503  # the front proxy's answer while a disabled member's server is being stopped


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


@pytest.fixture(scope="module")
def oauth_client(running_lab: Appliance) -> Client:
    return register_client(running_lab, "notes-app", "https://notes.example.org/callback", "--first-party")


class Session:
    """A member with a running hub-spawned JupyterLab, open in an old browser, and what each place holds."""

    def __init__(self, lab: Appliance, client: Client, action: str):
        self.lab, self.client = lab, client
        self.member = Member.new(lab, f"{action[:2]}{secrets.token_hex(3)}")
        self.hub = f"{lab.proxy_url}/hubs/{self.member.hub_id()}"
        self.browser = browser_client()
        landed = start_server(lab, self.hub, self.member.name, self.member.password, self.browser)
        self.server = server_url(landed)
        [process] = user_servers(self.member.name)
        environ = process.environ()
        self.storage_token, self.server_api_token = environ["APPLIANCE_STORAGE_TOKEN"], environ["JUPYTERHUB_API_TOKEN"]
        self.renew_url = environ["APPLIANCE_STORAGE_RENEW_URL"]
        code, verifier = self.member.portal.code_for(client)
        tokens = exchange(lab, client, code, verifier).json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def lab_contents(self, browser: httpx.Client | None = None) -> int:
        return (browser or self.browser).get(f"{self.server}/api/contents").status_code

    def hub_home(self) -> int:
        return self.browser.get(f"{self.hub}/hub/home").status_code

    def storage(self) -> int:
        return StorageCaller(self.lab, self.storage_token).call("GET", "list", "").status_code

    def everything_answers(self) -> dict[str, int]:
        return {"lab": self.lab_contents(), "hub": self.hub_home(), "storage": self.storage(),
                "userinfo": userinfo(self.lab, self.access_token).status_code}

    def close(self) -> None:
        self.browser.close()


def sign_out_in_the_old_browser(session: Session) -> None:
    portal = session.member.portal.portal
    page = session.browser.get(f"{portal}/")
    answer = session.browser.post(f"{portal}/logout", headers={"Origin": portal},
                                  data={"csrf_token": form_value(page.text, "csrf_token")})
    assert answer.status_code == 303, answer.text[:500]
    assert session.browser.get(f"{portal}/account/password").status_code == 303  # signed out of the portal


def disable(session: Session) -> None:
    result = session.lab.cli("users", "disable", session.member.name)
    assert result.returncode == 0, result.stderr


def change_password_as_the_member(session: Session) -> None:
    """In the member's other browser (which stays signed in), at /account/password."""
    http, password, new = session.member.portal.http, session.member.password, session.member.password + "-2"
    page = http.get("/account/password")
    answer = http.post("/account/password", data={"csrf_token": form_value(page.text, "csrf_token"),
                                                  "current": password, "new": new, "confirm": new})
    assert answer.status_code == 200 and "changed" in answer.text.lower(), answer.text[:500]
    session.member.password += "-2"


def set_password_as_an_administrator(session: Session) -> None:
    result = session.lab.cli("users", "set-password", session.member.name)
    assert result.returncode == 0, result.stderr
    session.member.password = result.stdout.strip().rsplit(" ", 1)[-1]


ACTIONS: dict[str, Callable[[Session], None]] = {
    "sign-out": sign_out_in_the_old_browser, "disable": disable, "password-by-member": change_password_as_the_member,
    "password-by-admin": set_password_as_an_administrator}


def wait_until_refused(session: Session, began: float, server_stops: bool) -> dict[str, float]:
    """Seconds after ``began`` at which each place first refused; fails past WITHIN_S."""
    refused_at: dict[str, float] = {}
    lab_refusals = (*REFUSED_PAGE, GONE) if server_stops else REFUSED_PAGE
    checks: dict[str, Callable[[], bool]] = {
        "lab": lambda: session.lab_contents() in lab_refusals,
        "hub": lambda: session.hub_home() in REFUSED_PAGE,
        "storage": lambda: session.storage() == 401,
        "userinfo": lambda: userinfo(session.lab, session.access_token).status_code == 401,
    }
    while len(refused_at) < len(checks):
        for name, check in checks.items():
            if name not in refused_at and check():
                refused_at[name] = time.monotonic() - began
        still = sorted(set(checks) - set(refused_at))
        assert time.monotonic() - began < WITHIN_S, f"still answering {WITHIN_S} s after the action: {still}"
        time.sleep(0.1)
    return refused_at


@pytest.mark.parametrize("action", list(ACTIONS))
def test_after_the_action_the_old_browser_server_token_and_oauth_tokens_are_refused_within_5_s(
        running_lab: Appliance, oauth_client: Client, action: str) -> None:
    session = Session(running_lab, oauth_client, action)
    try:
        assert session.everything_answers() == {"lab": 200, "hub": 200, "storage": 200, "userinfo": 200}
        ACTIONS[action](session)
        began = time.monotonic()
        renewed = refresh(running_lab, oauth_client, session.refresh_token)  # once: a success would rotate it
        assert renewed.status_code == 400 and renewed.json()["error"] == "invalid_grant", renewed.text
        refused_at = wait_until_refused(session, began, server_stops=action == "disable")
        print(f"{action}: refused after " + ", ".join(f"{k} {v:.2f} s" for k, v in refused_at.items()))
        if action == "disable":
            deadline = began + WITHIN_S
            while user_servers(session.member.name):
                assert time.monotonic() < deadline, "the disabled member's server still runs 5 s after"
                time.sleep(0.1)
            print(f"disable: server stopped after {time.monotonic() - began:.2f} s")
            renewal = httpx.post(session.renew_url, headers={"Authorization": f"token {session.server_api_token}"})
            assert renewal.status_code == 403  # its own token went with it: no storage token for it again
            return
        # the server runs on: the member's next sign-in finds it, and it renews its storage token
        with browser_client() as fresh:
            landed = start_server(running_lab, session.hub, session.member.name, session.member.password, fresh)
            assert server_url(landed) == session.server
            listing = fresh.get(f"{session.server}/api/contents")
            assert listing.status_code == 200, listing.text[:500]
        assert session.lab_contents() in REFUSED_PAGE  # the old browser stays out
    finally:
        session.close()


def test_a_servers_own_token_renews_its_storage_token_and_nothing_else_of_the_member_does(
        running_lab: Appliance, oauth_client: Client) -> None:
    session = Session(running_lab, oauth_client, "renewal")
    try:
        renew_url = session.renew_url
        assert urlsplit(renew_url).path == f"{urlsplit(session.hub).path}/hub/api/appliance/storage-token"
        own = httpx.post(renew_url, headers={"Authorization": f"token {session.server_api_token}"})
        assert own.status_code == 200, own.text
        assert StorageCaller(running_lab, own.json()["token"]).call("GET", "list", "").status_code == 200
        forged = httpx.post(renew_url, headers={"Authorization": f"token {secrets.token_hex(16)}"})
        assert forged.status_code == 403
        assert httpx.post(renew_url).status_code == 403
    finally:
        session.close()
