"""The identity provider's rules, each with a negative test, against the real portal and PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.oauth import (
    Browser,
    Client,
    add_user,
    exchange,
    form_value,
    query_of,
    refresh,
    register_client,
    sign_in,
    userinfo,
)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


CALLBACK = "http://127.0.0.1:9/hubs/1/hub/oauth_callback"  # never contacted: the tests read the redirect


@pytest.fixture(scope="module")
def hub_client(portal_in_process: Appliance) -> Client:
    return register_client(portal_in_process, "hub-rules", CALLBACK, "--first-party")


def new_user(appliance: Appliance, *args: str) -> tuple[str, str]:
    username = f"u{uuid.uuid4().hex[:10]}"
    return username, add_user(appliance, username, *args)


@pytest.fixture
def signed_in(portal_in_process: Appliance) -> Iterator[tuple[Browser, str]]:
    username, password = new_user(portal_in_process, "--name", "Test Person", "--email", "t@lab.org",
                                  "--group", "physics")
    browser = Browser(portal_in_process)
    assert browser.sign_in(username, password).status_code == 303
    yield browser, username


def tokens_for(appliance: Appliance, browser: Browser, client: Client) -> dict[str, str]:
    code, verifier = browser.code_for(client)
    response = exchange(appliance, client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


# ----- the happy path, and what it returns ---------------------------------------------------------

def test_first_party_flow_issues_short_lived_tokens_and_claims(portal_in_process: Appliance, hub_client: Client,
                                                               signed_in: tuple[Browser, str]) -> None:
    browser, username = signed_in
    tokens = tokens_for(portal_in_process, browser, hub_client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["refresh_token"] and tokens["id_token"]
    claims = userinfo(portal_in_process, tokens["access_token"]).json()
    assert claims["preferred_username"] == username
    assert claims["name"] == "Test Person" and claims["email"] == "t@lab.org"
    assert claims["groups"] == ["physics"] and claims["admin"] is False
    assert uuid.UUID(claims["sub"])


def test_discovery_and_jwks(portal_in_process: Appliance) -> None:
    config = httpx.get(portal_in_process.portal_url + "/.well-known/openid-configuration").json()
    assert config["issuer"] == portal_in_process.public_portal_url  # where browsers reach it
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    keys = httpx.get(config["jwks_uri"]).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]


def test_id_token_verifies_and_a_tampered_signature_does_not(portal_in_process: Appliance, hub_client: Client,
                                                             signed_in: tuple[Browser, str]) -> None:
    browser, username = signed_in
    id_token = tokens_for(portal_in_process, browser, hub_client)["id_token"]
    keys = KeySet.import_key_set(httpx.get(portal_in_process.portal_url + "/oauth/jwks").json())
    claims = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    assert claims["iss"] == portal_in_process.public_portal_url
    assert claims["aud"] == [hub_client.client_id]
    assert claims["preferred_username"] == username
    assert claims["exp"] - claims["iat"] <= 3600
    header, payload, signature = id_token.split(".")
    flipped = base64.urlsafe_b64encode(bytes([base64.urlsafe_b64decode(signature + "==")[0] ^ 1])).decode()[:2]
    with pytest.raises(BadSignatureError):
        jwt.decode(".".join([header, payload, flipped + signature[2:]]), keys, algorithms=["RS256"])
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "admin": True}).encode()).decode().rstrip("=")
    with pytest.raises(BadSignatureError):
        jwt.decode(".".join([header, forged, signature]), keys, algorithms=["RS256"])


# ----- PKCE ---------------------------------------------------------------------------------------

def test_wrong_or_missing_pkce_verifier_is_refused(portal_in_process: Appliance, hub_client: Client,
                                                   signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    code, _verifier = browser.code_for(hub_client)
    wrong = exchange(portal_in_process, hub_client, code, "x" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code, _verifier = browser.code_for(hub_client)
    missing = exchange(portal_in_process, hub_client, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("overrides", "why"), [
    ({"code_challenge_method": "plain"}, "Only code_challenge_method=S256"),
    ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
    ({"code_challenge_method": None}, "Only code_challenge_method=S256"),
])
def test_authorization_without_s256_challenge_is_refused(hub_client: Client, signed_in: tuple[Browser, str],
                                                          overrides: dict[str, str], why: str) -> None:
    browser, _ = signed_in
    response = browser.authorize(hub_client, **overrides)
    assert response.status_code == 302  # the redirect URI was verified: the client hears about it
    error = query_of(response)
    assert error["error"] == "invalid_request" and why in error["error_description"]
    assert "code" not in error


# ----- redirect URIs -----------------------------------------------------------------------------

@pytest.mark.parametrize("redirect_uri", [
    CALLBACK + "/",  # a trailing slash
    CALLBACK + "x",  # a suffix
    CALLBACK.replace("127.0.0.1", "evil.example"),  # another host
    CALLBACK.replace(":9/", ":10/"),  # another port
    CALLBACK.replace("http:", "https:"),
])
def test_redirect_uri_mismatch_shows_a_page_and_never_redirects(hub_client: Client, signed_in: tuple[Browser, str],
                                                                redirect_uri: str) -> None:
    browser, _ = signed_in
    response = browser.authorize(hub_client, redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "This sign-in link is not valid" in response.text
    assert "not supported by client" in response.text


def test_unknown_client_shows_a_page(signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    response = browser.authorize(Client("nonesuch", "", CALLBACK))
    assert response.status_code == 400 and "location" not in response.headers


# ----- codes ------------------------------------------------------------------------------------

def test_replayed_code_is_refused_and_revokes_what_it_issued(portal_in_process: Appliance, hub_client: Client,
                                                             signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    code, verifier = browser.code_for(hub_client)
    first = exchange(portal_in_process, hub_client, code, verifier)
    assert first.status_code == 200
    assert userinfo(portal_in_process, first.json()["access_token"]).status_code == 200
    replay = exchange(portal_in_process, hub_client, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert userinfo(portal_in_process, first.json()["access_token"]).status_code == 401
    assert refresh(portal_in_process, hub_client, first.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_expired_code_is_refused(portal_in_process: Appliance, hub_client: Client,
                                 signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    code, verifier = browser.code_for(hub_client)
    engine = create_engine(portal_in_process.database_url())
    with engine.begin() as connection:  # age it past its lifetime rather than sleeping
        assert connection.execute(text(
            "UPDATE identity.codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL "
            "AND expires_at <= now() + interval '5 minutes'")).rowcount >= 1
    engine.dispose()
    response = exchange(portal_in_process, hub_client, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_lifetime_is_at_most_five_minutes(portal_in_process: Appliance, hub_client: Client,
                                               signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    browser.code_for(hub_client)
    engine = create_engine(portal_in_process.database_url())
    with engine.connect() as connection:
        longest = connection.execute(text("SELECT max(expires_at - auth_time) FROM identity.codes")).scalar_one()
    engine.dispose()
    assert longest.total_seconds() <= 300


def test_code_is_bound_to_its_client(portal_in_process: Appliance, hub_client: Client,
                                     signed_in: tuple[Browser, str]) -> None:
    other = register_client(portal_in_process, f"other-{uuid.uuid4().hex[:6]}", CALLBACK, "--first-party")
    browser, _ = signed_in
    code, verifier = browser.code_for(hub_client)
    stolen = exchange(portal_in_process, other, code, verifier)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(portal_in_process: Appliance, hub_client: Client,
                                        signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    code, verifier = browser.code_for(hub_client)
    response = exchange(portal_in_process, Client(hub_client.client_id, "wrong", hub_client.redirect_uri), code,
                        verifier)
    assert response.json()["error"] == "invalid_client"


# ----- refresh tokens ------------------------------------------------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(portal_in_process: Appliance, hub_client: Client,
                                                      signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    first = tokens_for(portal_in_process, browser, hub_client)
    second = refresh(portal_in_process, hub_client, first["refresh_token"])
    assert second.status_code == 200, second.text
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert userinfo(portal_in_process, second_tokens["access_token"]).status_code == 200
    reuse = refresh(portal_in_process, hub_client, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the whole family is gone: the newest refresh token and every access token
    assert refresh(portal_in_process, hub_client, second_tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(portal_in_process, second_tokens["access_token"]).status_code == 401
    assert userinfo(portal_in_process, first["access_token"]).status_code == 401


def test_refresh_accepts_client_secret_post(portal_in_process: Appliance, hub_client: Client,
                                            signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    tokens = tokens_for(portal_in_process, browser, hub_client)
    response = httpx.post(portal_in_process.portal_url + "/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": hub_client.client_id, "client_secret": hub_client.secret})
    assert response.status_code == 200, response.text


def test_revocation(portal_in_process: Appliance, hub_client: Client, signed_in: tuple[Browser, str]) -> None:
    browser, _ = signed_in
    tokens = tokens_for(portal_in_process, browser, hub_client)
    response = httpx.post(portal_in_process.portal_url + "/oauth/revoke", data={
        "token": tokens["access_token"], "client_id": hub_client.client_id, "client_secret": hub_client.secret})
    assert response.status_code == 200
    assert userinfo(portal_in_process, tokens["access_token"]).status_code == 401
    assert refresh(portal_in_process, hub_client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_userinfo_refuses_bad_tokens(portal_in_process: Appliance) -> None:
    for header in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic YTpi"}):
        response = httpx.get(portal_in_process.portal_url + "/oauth/userinfo", headers=header)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


# ----- accounts and sign-in --------------------------------------------------------------------------

def test_disabled_account_is_refused_and_its_tokens_die(portal_in_process: Appliance, hub_client: Client) -> None:
    username, password = new_user(portal_in_process)
    browser = Browser(portal_in_process)
    browser.sign_in(username, password)
    tokens = tokens_for(portal_in_process, browser, hub_client)
    assert portal_in_process.cli("users", "disable", username).returncode == 0
    assert userinfo(portal_in_process, tokens["access_token"]).status_code == 401
    assert refresh(portal_in_process, hub_client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert browser.http.get("/").text.count(f"Signed in as <strong>{username}") == 0  # session ended
    refused = Browser(portal_in_process).sign_in(username, password)
    assert refused.status_code == 401 and "This account is disabled" in refused.text
    assert portal_in_process.cli("users", "enable", username).returncode == 0
    assert Browser(portal_in_process).sign_in(username, password).status_code == 303


def test_unknown_user_and_wrong_password_get_the_same_answer(portal_in_process: Appliance) -> None:
    username, _ = new_user(portal_in_process)
    wrong = Browser(portal_in_process).sign_in(username, "not-the-password")
    unknown = Browser(portal_in_process).sign_in(f"nobody{uuid.uuid4().hex[:6]}", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.text and "Wrong username or password." in unknown.text
    assert form_value(wrong.text, "username") == username  # kept, so the person can retype only the password


def test_lockout_after_repeated_failures_says_when_to_retry(portal_in_process: Appliance) -> None:
    username, password = new_user(portal_in_process)
    for _ in range(5):
        assert Browser(portal_in_process).sign_in(username, "wrong-password").status_code == 401
    locked = Browser(portal_in_process).sign_in(username, password)  # even the right password now
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account. Try again in 15 minutes." in locked.text
    assert 800 < int(locked.headers["retry-after"]) <= 900
    unknown = f"ghost{uuid.uuid4().hex[:6]}"
    for _ in range(5):
        Browser(portal_in_process).sign_in(unknown, "x")
    assert Browser(portal_in_process).sign_in(unknown, "x").status_code == 429  # unknown names lock the same way


def test_lockout_per_client_address(new_portal: Callable[..., Appliance]) -> None:
    appliance = new_portal(APPLIANCE_IDENTITY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    username, password = new_user(appliance)
    for attempt in range(3):
        Browser(appliance).sign_in(f"someone{attempt}", "wrong")
    locked = Browser(appliance).sign_in(username, password)
    assert locked.status_code == 429 and "Too many failed sign-ins for your address" in locked.text


def test_forms_without_csrf_token_or_from_another_origin_are_refused(portal_in_process: Appliance) -> None:
    username, password = new_user(portal_in_process)
    browser = Browser(portal_in_process)
    page = browser.http.get("/login")
    token = form_value(page.text, "csrf_token")
    no_token = browser.http.post("/login", data={"username": username, "password": password})
    assert no_token.status_code == 403 and "expired" in no_token.text
    other_origin = browser.http.post("/login", data={"username": username, "password": password,
                                                     "csrf_token": token},
                                     headers={"Origin": f"http://127.0.0.1:{portal_in_process.proxy_port}"})
    assert other_origin.status_code == 403  # the hub origin may not post the portal's forms
    no_origin = httpx.post(portal_in_process.portal_url + "/login", cookies=browser.http.cookies,
                           data={"username": username, "password": password, "csrf_token": token})
    assert no_origin.status_code == 403
    assert browser.sign_in(username, password).status_code == 303
    home = browser.http.get("/")
    logout = browser.http.post("/logout", data={})
    assert logout.status_code == 403
    assert f"Signed in as <strong>{username}" in browser.http.get("/").text  # still signed in
    password_change = browser.http.post("/account/password", data={"current": password, "new": "x" * 12,
                                                                    "confirm": "x" * 12})
    assert password_change.status_code == 403
    logout = browser.http.post("/logout", data={"csrf_token": form_value(home.text, "csrf_token")})
    assert logout.status_code == 303
    assert "Signed in as" not in browser.http.get("/").text


def test_session_cookie_flags_over_http_and_https(portal_in_process: Appliance) -> None:
    username, password = new_user(portal_in_process)
    with httpx.Client(timeout=30) as loopback:  # the portal's own address is no secure context
        cookie = sign_in(loopback, portal_in_process.portal_url, username, password).headers["set-cookie"]
    assert cookie.startswith("appliance_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    # on the trial names, plain HTTP, browsers count *.localhost as secure: no other host can set it
    trial = Browser(portal_in_process).sign_in(username, password).headers["set-cookie"]
    assert trial.startswith("__Host-appliance_session=") and "Secure" in trial and "Domain" not in trial
    with httpx.Client(base_url=portal_in_process.portal_url, headers={
            "X-Forwarded-Proto": "https", "Origin": portal_in_process.portal_url.replace("http:", "https:")}) as https:
        page = https.get("/login")
        presession = page.headers["set-cookie"]
        assert presession.startswith("appliance_presession=") and "Secure" in presession
        # httpx keeps Secure cookies for https URLs only; TLS ends in front of the portal, so hand it over.
        response = https.post("/login", data={"username": username, "password": password,
                                              "csrf_token": form_value(page.text, "csrf_token")},
                              headers={"Cookie": presession.split(";")[0]})
    assert response.status_code == 303, response.text[:300]
    secure = [c for c in response.headers.get_list("set-cookie") if "session" in c][0]
    assert secure.startswith("__Host-appliance_session=")
    assert "Secure" in secure and "HttpOnly" in secure and "Path=/" in secure and "Domain" not in secure


def test_sign_in_never_redirects_off_site(portal_in_process: Appliance) -> None:
    username, password = new_user(portal_in_process)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = Browser(portal_in_process).sign_in(username, password, next_path=target)
        assert response.headers["location"] == "/"
    assert Browser(portal_in_process).sign_in(username, password, "/account/password").headers["location"] == \
        "/account/password"


def test_change_password(portal_in_process: Appliance) -> None:
    username, password = new_user(portal_in_process)
    browser, other_session = Browser(portal_in_process), Browser(portal_in_process)
    browser.sign_in(username, password)
    other_session.sign_in(username, password)
    page = browser.http.get("/account/password")
    token = form_value(page.text, "csrf_token")
    mismatch = browser.http.post("/account/password", data={"csrf_token": token, "current": password,
                                                            "new": "new-password-1", "confirm": "new-password-2"})
    assert "do not match" in mismatch.text
    short = browser.http.post("/account/password", data={"csrf_token": token, "current": password,
                                                         "new": "short", "confirm": "short"})
    assert "at least 10 characters" in short.text
    done = browser.http.post("/account/password", data={"csrf_token": token, "current": password,
                                                        "new": "new-password-1", "confirm": "new-password-1"})
    assert "Your password was changed" in done.text
    assert f"Signed in as <strong>{username}" in browser.http.get("/").text
    assert "Signed in as" not in other_session.http.get("/").text  # the other session was ended
    assert Browser(portal_in_process).sign_in(username, "new-password-1").status_code == 303


def test_consent_for_a_third_party_client(portal_in_process: Appliance, signed_in: tuple[Browser, str]) -> None:
    client = register_client(portal_in_process, f"app-{uuid.uuid4().hex[:6]}", CALLBACK, "--name", "Plot Viewer")
    browser, _ = signed_in
    page = browser.authorize(client)
    assert page.status_code == 200 and "Allow Plot Viewer to sign you in?" in page.text
    action = form_value(page.text, "csrf_token")
    url = page.request.url
    denied = browser.http.post(str(url), data={"csrf_token": action, "decision": "deny"})
    assert query_of(denied)["error"] == "access_denied"
    forged = browser.http.post(str(url), data={"decision": "allow"})
    assert forged.status_code == 403
    allowed = browser.http.post(str(url), data={"csrf_token": action, "decision": "allow"})
    assert "code" in query_of(allowed)


def test_not_signed_in_authorize_goes_to_login_and_back(portal_in_process: Appliance, hub_client: Client) -> None:
    username, password = new_user(portal_in_process)
    browser = Browser(portal_in_process)
    response = browser.authorize(hub_client)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2Foauth%2Fauthorize")
    next_path = httpx.URL(response.headers["location"]).params["next"]
    signed = browser.sign_in(username, password, next_path)
    assert signed.headers["location"] == next_path
    assert browser.http.get(next_path).status_code == 302


# ----- nothing secret in the database -----------------------------------------------------------------

def test_database_dump_holds_no_secret_in_clear_text(portal_in_process: Appliance) -> None:
    client = register_client(portal_in_process, f"dump-{uuid.uuid4().hex[:6]}", CALLBACK, "--first-party")
    username, password = new_user(portal_in_process)
    browser = Browser(portal_in_process)
    browser.sign_in(username, password)
    session_cookie = browser.http.cookies["__Host-appliance_session"]
    code, verifier = browser.code_for(client)
    tokens = exchange(portal_in_process, client, code, verifier).json()
    rotated = refresh(portal_in_process, client, tokens["refresh_token"]).json()
    secrets = {"password": password, "client secret": client.secret, "session": session_cookie, "code": code,
               "access token": tokens["access_token"], "refresh token": tokens["refresh_token"],
               "rotated refresh token": rotated["refresh_token"]}
    dump = portal_in_process.database_dump()
    assert "identity.accounts" in dump and "$argon2id$" in dump
    assert [name for name, value in secrets.items() if value in dump] == []


def test_only_the_authorization_code_grant_is_offered(portal_in_process: Appliance, hub_client: Client,
                                                      signed_in: tuple[Browser, str]) -> None:
    browser, username = signed_in
    implicit = browser.authorize(hub_client, response_type="token")
    assert query_of(implicit)["error"] == "unsupported_response_type"
    password_grant = httpx.post(portal_in_process.portal_url + "/oauth/token", data={
        "grant_type": "password", "username": username, "password": "x", "client_id": hub_client.client_id,
        "client_secret": hub_client.secret})
    assert password_grant.json()["error"] == "unsupported_grant_type"
    credentials = httpx.post(portal_in_process.portal_url + "/oauth/token", auth=(hub_client.client_id,
                             hub_client.secret), data={"grant_type": "client_credentials"})
    assert credentials.json()["error"] == "unsupported_grant_type"


def test_clients_kept_in_step_by_the_appliance(portal_in_process: Appliance) -> None:
    """ClientTable.ensure (what the hubs use) creates a client, then updates its URIs and secret."""
    from appliance.identity import ClientTable

    engine = create_engine(portal_in_process.database_url())
    table = ClientTable(engine)
    first = table.ensure("hub-ensure", "secret-one", [CALLBACK], name="Hub 1", first_party=True)
    moved = table.ensure("hub-ensure", "secret-two", [CALLBACK + "2"], name="Hub 1", first_party=True)
    engine.dispose()
    assert first.redirect_uris == (CALLBACK,) and moved.redirect_uris == (CALLBACK + "2",)
    assert moved.check_client_secret("secret-two") and not moved.check_client_secret("secret-one")
    listed = json.loads(portal_in_process.cli("clients", "list", "--json").stdout)
    assert {"client_id": "hub-ensure", "name": "Hub 1", "redirect_uris": [CALLBACK + "2"], "first_party": True} \
        in listed
