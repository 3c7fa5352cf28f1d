"""Secrets and codes are scrubbed from logged URLs, plain or URL-encoded, and records keep their shape."""

from __future__ import annotations

import logging

import pytest

from appliance.logscrub import SECRET_PARAMETERS, ScrubSecrets, scrub


@pytest.mark.parametrize("name", SECRET_PARAMETERS)
def test_every_secret_parameter_is_hidden(name: str) -> None:
    assert scrub(f"GET /cb?a=1&{name}=S3CRET-x_y.z&b=2 HTTP/1.1") == f"GET /cb?a=1&{name}=[secret]&b=2 HTTP/1.1"


@pytest.mark.parametrize(("logged", "expected"), [
    ("/hubs/1/hub/oauth_callback?code=abc&state=eyJ9", "/hubs/1/hub/oauth_callback?code=[secret]&state=[secret]"),
    ("/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dhub-1%26state%3DeyJ9%26scope%3Dopenid",
     "/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dhub-1%26state%3D[secret]%26scope%3Dopenid"),
    ("x?next=%252Fcb%253Fcode%253Dabc%2526s%253D1", "x?next=%252Fcb%253Fcode%253D[secret]%2526s%253D1"),
    ("/authorize?code_challenge=kept&code_challenge_method=S256",
     "/authorize?code_challenge=kept&code_challenge_method=S256"),
    ("/cb?CODE=abc#frag", "/cb?CODE=[secret]#frag"),
    ("/cb?code=", "/cb?code="),
    ("form body: password=hunter2&username=ann", "form body: password=[secret]&username=ann"),
    ("status_code=200 barcode=1", "status_code=200 barcode=1"),
])
def test_scrub_keeps_everything_but_the_values(logged: str, expected: str) -> None:
    assert scrub(logged) == expected


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args, None)


def test_the_filter_scrubs_arguments_in_place_and_keeps_their_number() -> None:
    access = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/cb?code=abc", "1.1", 302)
    assert ScrubSecrets().filter(access)
    assert access.args == ("127.0.0.1:5", "GET", "/cb?code=[secret]", "1.1", 302)
    assert access.getMessage() == '127.0.0.1:5 - "GET /cb?code=[secret] HTTP/1.1" 302'


def test_the_filter_scrubs_a_message_that_holds_a_secret_itself() -> None:
    refused = record("400 GET /cb?code=abc&state=xyz (%s): %s", "127.0.0.1", "state missing")
    ScrubSecrets().filter(refused)
    assert refused.getMessage() == "400 GET /cb?code=[secret]&state=[secret] (127.0.0.1): state missing"
