"""The route walker: every route in the admin API's OpenAPI document, and every /admin page the portal
serves, refuses a member (403), nobody (401, or a page's redirect to /login) and a session's unsafe request
without its CSRF token (403), on a running appliance; and no answer of theirs may be framed.

The routes come from the running portal's own document and the pages from the portal app's route table,
so a route someone adds is walked without anyone listing it here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.routing import Route

from tests.harness import Appliance
from tests.integration.oauth import add_user, browser_client, form_value, sign_in

pytestmark = pytest.mark.integration
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass
class Person:
    name: str
    http: httpx.Client
    csrf: str  # their session's token, as the portal's pages carry it


@dataclass(frozen=True)
class Walked:
    method: str
    path: str  # with its parameters filled in


@pytest.fixture(scope="module")
def people(portal_in_process: Appliance) -> Iterator[dict[str, Person]]:
    portal, suffix = portal_in_process.public_portal_url, uuid.uuid4().hex[:6]
    made: dict[str, Person] = {}
    for role, args in {"admin": ("--admin",), "member": ()}.items():
        name = f"walk-{role}{suffix}"
        password = add_user(portal_in_process, name, *args)
        client = browser_client(base_url=portal, headers={"Origin": portal})
        assert sign_in(client, portal, name, password).status_code == 303
        made[role] = Person(name, client, form_value(client.get("/account/password").text, "csrf_token"))
    made["nobody"] = Person("", browser_client(base_url=portal, headers={"Origin": portal}), "")
    yield made
    for person in made.values():
        person.http.close()


def fill(path: str, member: str) -> str:
    """A path with real values: the member's own name for a username, the first hub, a placeholder else."""
    values = {"username": member, "hub_id": "1", "action": "disable", "slug": "nothing-here"}
    return PARAMETER.sub(lambda match: values.get(match.group(1), "1"), path)


@pytest.fixture(scope="module")
def api_routes(portal_in_process: Appliance, people: dict[str, Person]) -> list[Walked]:
    document = people["admin"].http.get("/api/admin/v1/openapi.json")
    assert document.status_code == 200, document.text
    walked = [Walked(method.upper(), fill(path, people["member"].name))
              for path, operations in document.json()["paths"].items() for method in operations]
    assert len(walked) >= 12, walked  # People's own; the hubs', system's and audit's join as they are wired
    return [Walked("GET", "/api/admin/v1/openapi.json"), *walked]


@pytest.fixture(scope="module")
def page_routes(portal_in_process: Appliance, people: dict[str, Person]) -> list[Walked]:
    from appliance.application.portal import make_app
    from appliance.config import load_config

    app = make_app(load_config(environ=portal_in_process.env))  # its route table only: never started
    walked = [Walked(method, fill(route.path, people["member"].name)) for route in app.routes
              if isinstance(route, Route) and route.path.startswith("/admin")
              for method in sorted(route.methods or ()) if method != "HEAD"]
    assert {"/admin", "/admin/people", "/admin/people/new", "/admin/people/import"} <= {w.path for w in walked}
    return walked


def ask(person: Person, route: Walked, csrf: str | None = None, **headers: str) -> httpx.Response:
    sent = {**headers, **({"X-CSRF-Token": csrf} if csrf else {})}
    if route.method in UNSAFE and not route.path.startswith("/api/"):
        return person.http.request(route.method, route.path, data={"csrf_token": csrf or ""}, headers=headers)
    return person.http.request(route.method, route.path, headers=sent, json={} if route.method in UNSAFE else None)


def unframeable(answer: httpx.Response) -> bool:
    return (answer.headers.get("x-frame-options") == "DENY"
            and "frame-ancestors 'none'" in answer.headers.get("content-security-policy", ""))


def test_every_api_route_answers_a_member_403_and_nobody_401(api_routes: list[Walked],
                                                              people: dict[str, Person]) -> None:
    for route in api_routes:
        member = ask(people["member"], route, people["member"].csrf)
        assert member.status_code == 403 and member.json()["ok"] is False, (route, member.text[:200])
        nobody = ask(people["nobody"], route)
        assert nobody.status_code == 401 and nobody.json()["status"] == 401, (route, nobody.text[:200])
        assert unframeable(member) and unframeable(nobody), route


def test_every_unsafe_api_route_refuses_an_admin_without_the_csrf_token_or_from_another_site(
        api_routes: list[Walked], people: dict[str, Person], portal_in_process: Appliance) -> None:
    admin = people["admin"]
    unsafe = [route for route in api_routes if route.method in UNSAFE]
    assert unsafe
    for route in unsafe:
        refused = ask(admin, route)
        assert refused.status_code == 403 and "CSRF" in refused.json()["error"], (route, refused.text[:200])
        forged = ask(admin, route, "forged-token")
        assert forged.status_code == 403, route
        elsewhere = ask(admin, route, admin.csrf, Origin="http://evil.localhost")
        assert elsewhere.status_code == 403, route
    assert portal_in_process.cli("users", "list", "--state", "disabled").stdout.count(people["member"].name) == 0


def test_every_admin_page_answers_a_member_403_and_sends_nobody_to_sign_in(page_routes: list[Walked],
                                                                            people: dict[str, Person]) -> None:
    for route in page_routes:
        member = ask(people["member"], route, people["member"].csrf)
        assert member.status_code == 403 and "administrators only" in member.text, (route, member.text[:200])
        nobody = ask(people["nobody"], route)
        assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login?next=%2Fadmin"), route
        assert unframeable(member) and unframeable(nobody), route


def test_every_admin_form_refuses_an_admin_without_the_csrf_token(page_routes: list[Walked],
                                                                  people: dict[str, Person],
                                                                  portal_in_process: Appliance) -> None:
    forms = [route for route in page_routes if route.method in UNSAFE]
    assert len(forms) >= 3
    for route in forms:
        refused = ask(people["admin"], route)
        assert refused.status_code == 403 and "CSRF" in refused.text, (route, refused.text[:200])
    # /admin/people/<member>/disable was among them: refused, it changed nothing
    assert people["member"].http.get("/account/password").status_code == 200


def test_the_walk_can_fail_an_admin_with_the_token_is_let_through(api_routes: list[Walked],
                                                                  page_routes: list[Walked],
                                                                  people: dict[str, Person]) -> None:
    admin = people["admin"]
    for route in [r for r in api_routes + page_routes if r.method == "GET"]:
        answer = admin.http.get(route.path)
        assert answer.status_code not in (401, 403), (route, answer.text[:200])
        assert unframeable(answer), route
