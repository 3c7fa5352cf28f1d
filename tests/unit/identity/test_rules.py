"""Identity's pure rules: usernames, redirects, CSRF, clients, claims, passwords, settings."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from starlette.requests import Request

from appliance.errors import ConfigError
from appliance.identity.accounts import Account, check_groups, normalize_username
from appliance.identity.clients import OAuthClient, check_redirect_uris
from appliance.identity.csrf import CsrfSigner, same_origin
from appliance.identity.errors import IdentityError, InvalidClient, InvalidUsername
from appliance.identity.oauth import user_claims
from appliance.identity.pages import safe_next
from appliance.identity.passwords import hash_password, verify_password
from appliance.identity.settings import IdentitySettings


@pytest.mark.parametrize(("raw", "name"), [("Alice", "alice"), ("  bob.smith ", "bob.smith"), ("Ａｌｉｃｅ", "alice"),
                                           ("x_y-z9", "x_y-z9")])
def test_usernames_are_case_folded(raw: str, name: str) -> None:
    assert normalize_username(raw) == name


@pytest.mark.parametrize("raw", ["", "9lives", "a b", "a/b", "../x", "x" * 33, "ålice", "a\x00b", "-x"])
def test_unsafe_usernames_are_refused_with_the_rule(raw: str) -> None:
    with pytest.raises(InvalidUsername, match="lowercase letters, digits"):
        normalize_username(raw)


def test_groups_are_checked_and_sorted() -> None:
    assert check_groups(["ml", "physics", "ml"]) == ("ml", "physics")
    with pytest.raises(IdentityError):
        check_groups(["bad group"])


@pytest.mark.parametrize(("target", "expected"), [
    ("/oauth/authorize?x=1", "/oauth/authorize?x=1"), (None, "/"), ("", "/"), ("//evil.example", "/"),
    ("https://evil.example", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), ("relative", "/"),
])
def test_only_local_redirects_after_sign_in(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def request_with(headers: dict[str, str], scheme: str = "http") -> Request:
    return Request({"type": "http", "method": "POST", "scheme": scheme, "server": ("127.0.0.1", 8000),
                    "path": "/login", "query_string": b"", "root_path": "",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


def test_csrf_tokens_are_bound_and_origins_checked() -> None:
    signer = CsrfSigner("secret")
    token = signer.token("login:abc")
    assert signer.check("login:abc", token)
    assert not signer.check("login:abd", token)
    assert not signer.check("login:abc", None)
    assert not CsrfSigner("other").check("login:abc", token)
    host = {"host": "127.0.0.1:8000"}
    assert same_origin(request_with({**host, "origin": "http://127.0.0.1:8000"}))
    assert same_origin(request_with({**host, "referer": "http://127.0.0.1:8000/login?next=/"}))
    assert not same_origin(request_with({**host, "origin": "http://127.0.0.1:8001"}))  # the hub origin
    assert not same_origin(request_with({**host, "origin": "null"}))
    assert not same_origin(request_with(host))


def test_client_redirect_uris_match_exactly() -> None:
    client = OAuthClient("hub", "Hub", b"", ("https://hub.lab.org/hubs/1/hub/oauth_callback",), True)
    assert client.check_redirect_uri("https://hub.lab.org/hubs/1/hub/oauth_callback")
    for near in ("https://hub.lab.org/hubs/1/hub/oauth_callback/", "https://hub.lab.org/hubs/1/hub/oauth_callbackx",
                 "https://HUB.lab.org/hubs/1/hub/oauth_callback", "http://hub.lab.org/hubs/1/hub/oauth_callback"):
        assert not client.check_redirect_uri(near)
    assert client.get_allowed_scope("openid groups admin") == "openid groups"
    assert not client.check_response_type("token") and not client.check_grant_type("password")


@pytest.mark.parametrize("uri", ["/relative", "ftp://x/cb", "https://x/cb#frag", "https:///cb"])
def test_registered_redirect_uris_must_be_absolute_http(uri: str) -> None:
    with pytest.raises(InvalidClient):
        check_redirect_uris([uri])


def test_claims_follow_the_scopes() -> None:
    account = Account(1, "8c5f…", "ada", "Ada L", "ada@lab.org", ("ml",), True, False,
                      datetime.now(timezone.utc), None)
    assert user_claims(account, "openid") == {"sub": "8c5f…"}
    assert user_claims(account, "openid profile email groups") == {
        "sub": "8c5f…", "preferred_username": "ada", "name": "Ada L", "email": "ada@lab.org", "groups": ["ml"],
        "admin": True}


def test_passwords_use_argon2id_above_the_owasp_minimum() -> None:
    hashed = hash_password("correct horse")
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", hashed)
    assert match and int(match[1]) >= 19456 and int(match[2]) >= 2 and int(match[3]) >= 1
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "correct horsf")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


@pytest.mark.parametrize("values", [{"access_token_lifetime_s": 7200}, {"code_lifetime_s": 600},
                                    {"min_password_length": 4}])
def test_identity_settings_refuse_unsafe_values(values: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        IdentitySettings(**values)  # type: ignore[arg-type]
