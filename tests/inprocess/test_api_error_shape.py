"""Every API route the portal serves answers its errors in the one JSON shape (appliance.errors.error_body):
``{"ok": false, "error": "<what happened and what to do>", "status": <the HTTP code>}``. The routes come
from the portal app's own table, so a route someone adds is walked without anyone listing it here. A
signed-in member (their own name in the paths) and nobody ask each route with an empty body; whatever
they are refused, the refusal has the shape. OAuth's and OpenID's endpoints answer in their RFCs' shape
and are not under /api/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.harness import Appliance
from tests.inprocess.conftest import portal_routes
from tests.integration.oauth import add_user, browser_client, sign_in

pytestmark = pytest.mark.integration


def api_routes(portal: Appliance) -> list[tuple[str, str]]:
    return [(method, path) for method, path in portal_routes(portal) if path.startswith("/api/")]


@pytest.fixture(scope="module")
def member(portal_in_process: Appliance) -> Iterator[httpx.Client]:
    portal, name = portal_in_process.public_portal_url, f"shape{uuid.uuid4().hex[:6]}"
    client = browser_client(base_url=portal, headers={"Origin": portal})
    assert sign_in(client, portal, name, add_user(portal_in_process, name)).status_code == 303
    yield client
    client.close()


def assert_error_shape(answer: httpx.Response, method: str, path: str) -> None:
    where = f"{method} {path} answered {answer.status_code}"
    assert answer.headers.get("content-type", "").startswith("application/json"), f"{where}: {answer.text[:200]}"
    body = answer.json()
    assert set(body) == {"ok", "error", "status"}, f"{where}: {body}"
    assert body["ok"] is False and body["status"] == answer.status_code, f"{where}: {body}"
    assert isinstance(body["error"], str) and len(body["error"]) > 8, f"{where}: {body}"


def test_every_api_routes_refusals_have_the_one_error_shape(portal_in_process: Appliance,
                                                            member: httpx.Client) -> None:
    routes = api_routes(portal_in_process)
    prefixes = {path.split("/")[2] for _, path in routes}
    assert {"storage", "gallery", "discovery", "research", "admin"} <= prefixes, prefixes
    portal = portal_in_process.public_portal_url
    refused = 0
    with browser_client(base_url=portal, headers={"Origin": portal}) as nobody:
        for client in (nobody, member):
            for method, path in routes:
                answer = client.request(method, path, json={} if method in {"POST", "PUT", "PATCH"} else None,
                                        headers={"Authorization": "Bearer not-a-token"} if "storage" in path else {})
                if answer.status_code >= 400:
                    assert_error_shape(answer, method, path)
                    refused += 1
    assert refused >= len(routes), f"only {refused} refusals over {len(routes)} routes: the walk asked too little"


def test_unknown_api_paths_and_methods_answer_in_the_shape(portal_in_process: Appliance,
                                                          member: httpx.Client) -> None:
    assert_error_shape(member.get("/api/nothing/here"), "GET", "/api/nothing/here")
    assert_error_shape(member.delete("/api/status"), "DELETE", "/api/status")
    answer = member.get("/no/such/page", headers={"Accept": "application/json"})
    assert_error_shape(answer, "GET", "/no/such/page (asking for JSON)")
