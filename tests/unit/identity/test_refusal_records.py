"""What a refused token request is recorded as: the client it named and the OAuth error."""

from __future__ import annotations

import base64
import json

from starlette.datastructures import FormData, Headers, QueryParams

from appliance.identity.endpoints import client_of, error_of
from appliance.identity.oauth import PortalOAuthRequest


def token_request(headers: dict[str, str], form: dict[str, str]) -> PortalOAuthRequest:
    return PortalOAuthRequest("POST", "https://lab.example.org/oauth/token", Headers(headers), QueryParams(""),
                              FormData(form))


def test_the_client_is_read_from_basic_auth_or_the_form() -> None:
    basic = base64.b64encode(b"hub%2D1:secret").decode()
    assert client_of(token_request({"authorization": f"Basic {basic}"}, {})) == "hub-1"
    assert client_of(token_request({}, {"client_id": "tool", "client_secret": "x"})) == "tool"
    assert client_of(token_request({"authorization": "Basic !!!"}, {"client_id": "tool"})) == ""
    assert client_of(token_request({}, {})) == ""


def test_the_error_is_the_oauth_error_code_whatever_the_body_shape() -> None:
    assert error_of((400, {"error": "invalid_grant", "error_description": "…"}, [])) == "invalid_grant"
    assert error_of((401, json.dumps({"error": "invalid_client"}), [])) == "invalid_client"
    assert error_of((500, "not json", [])) == ""
    assert error_of((400, {"error": "x" * 500}, [])) == "x" * 64
