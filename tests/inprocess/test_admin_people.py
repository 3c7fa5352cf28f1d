"""People on a running appliance: the admin API (session + CSRF, and admin tokens), the console's pages and
`appliance users`, all through the same functions; keyset pages and search at 100,000 accounts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from appliance.identity.directory import READ_WHOLE
from tests.harness import Appliance, mint_storage_token
from tests.integration.oauth import add_user, browser_client, form_value, sign_in
from tests.integration.people_data import seed_accounts

pytestmark = pytest.mark.integration
API = "/api/admin/v1"
SEEDED = 100_000


@dataclass
class Admin:
    name: str
    http: httpx.Client
    csrf: str

    def api(self, method: str, path: str, **body: Any) -> httpx.Response:
        return self.http.request(method, API + path, json=body if method != "GET" else None,
                                 headers={"X-CSRF-Token": self.csrf} if method != "GET" else {})

    def form(self, page: str, action: str, **fields: str) -> httpx.Response:
        shown = self.http.get(page)
        assert shown.status_code == 200, shown.text[:300]
        return self.http.post(action, data={"csrf_token": form_value(shown.text, "csrf_token"), **fields})


@pytest.fixture(scope="module")
def engine(portal_in_process: Appliance) -> Iterator[Engine]:
    made = create_engine(portal_in_process.database_url())
    yield made
    made.dispose()


def signed_in(appliance: Appliance, name: str, password: str) -> httpx.Client:
    portal = appliance.public_portal_url
    client = browser_client(base_url=portal, headers={"Origin": portal})
    assert sign_in(client, portal, name, password).status_code == 303
    return client


@pytest.fixture(scope="module")
def admin(portal_in_process: Appliance) -> Iterator[Admin]:
    name = f"boss{uuid.uuid4().hex[:6]}"
    client = signed_in(portal_in_process, name, add_user(portal_in_process, name, "--admin"))
    yield Admin(name, client, form_value(client.get("/account/password").text, "csrf_token"))
    client.close()


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:6]}"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s")


def audited(engine: Engine, action: str, target: str) -> list[Any]:
    def rows() -> list[Any]:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT actor, address FROM audit.events WHERE action = :a AND "
                                                "target = :t"), {"a": action, "t": target}))
    found: list[Any] = wait_for(rows, f"the audit log records {action} of {target}")
    return found


def test_a_new_person_gets_a_password_shown_once_or_a_one_time_sign_up_link(
        portal_in_process: Appliance, admin: Admin, engine: Engine) -> None:
    first = unique("ann")
    made = admin.api("POST", "/people", username=first, name="Ann Example", groups=["physics"])
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    assert made.json()["link"] is None and made.json()["person"]["groups"] == ["physics"]
    signed_in(portal_in_process, first, password).close()
    assert audited(engine, "person.created", first)[0].actor == admin.name

    second = unique("ben")
    link = admin.api("POST", "/people", username=second, how="link").json()["link"]
    assert link.startswith(f"{portal_in_process.public_portal_url}/welcome/")
    path = link.removeprefix(portal_in_process.public_portal_url)
    with browser_client(base_url=portal_in_process.public_portal_url,
                        headers={"Origin": portal_in_process.public_portal_url}) as visitor:
        choose_a_password(portal_in_process, visitor, path, second)
    duplicate = admin.api("POST", "/people", username=second.upper())
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]


def choose_a_password(appliance: Appliance, visitor: httpx.Client, path: str, name: str) -> None:
    page = visitor.get(path)
    assert page.status_code == 200 and name in page.text and page.headers["referrer-policy"] == "same-origin"
    chosen = visitor.post(path, data={"csrf_token": form_value(page.text, "csrf_token"), "new": "chosen-password-1",
                                      "confirm": "chosen-password-1"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    signed_in(appliance, name, "chosen-password-1").close()
    again = visitor.get(path)
    assert again.status_code == 410 and "already used" in again.text


def test_csv_import_previews_every_row_reports_the_bad_one_and_creates_the_rest(admin: Admin, engine: Engine) -> None:
    names = [unique("imp") for _ in range(3)]
    csv = (f"username,name,email,groups,admin\n{names[0]},Imp One,one@example.org,physics;chem,no\n"
           f"{names[1]},Imp Two,not-an-address,,\n{names[2]},Imp Three,,,yes\n")
    preview = admin.api("POST", "/people/import", csv=csv).json()
    assert (preview["applied"], preview["good"], preview["bad"]) == (False, 2, 1)
    bad = preview["rows"][1]
    assert (bad["line"], bad["username"], bad["ok"]) == (3, names[1], False)
    assert bad["error"] == "'not-an-address' is not an email address."
    assert admin.api("GET", f"/people/{names[0]}").status_code == 404  # a preview creates nothing
    page = admin.form("/admin/people/import", "/admin/people/import", csv=csv, step="apply", how="password")
    assert page.status_code == 200 and "2 created, 1 not" in page.text and "is not an email address" in page.text
    assert admin.api("GET", f"/people/{names[2]}").json()["person"]["admin"] is True
    assert admin.api("GET", f"/people/{names[0]}").json()["person"]["groups"] == ["chem", "physics"]
    audited(engine, "person.created", names[2])


def test_disable_ends_their_sessions_and_tokens_and_enable_lets_them_back(
        portal_in_process: Appliance, admin: Admin, engine: Engine) -> None:
    name = unique("dora")
    password = admin.api("POST", "/people", username=name).json()["password"]
    member = signed_in(portal_in_process, name, password)
    storage_token = mint_storage_token(portal_in_process, name)
    disabled = admin.form(f"/admin/people/{name}", f"/admin/people/{name}/disable")
    assert disabled.status_code == 303 and disabled.headers["location"] == f"/admin/people/{name}?done=disabled"
    assert member.get("/account/password").status_code == 303  # the session ended
    member.close()
    refused = httpx.get(f"{portal_in_process.portal_url}/api/storage/v1/read/x.ipynb",
                        headers={"Authorization": f"Bearer {storage_token}"})
    assert refused.status_code in (401, 403)
    portal = portal_in_process.public_portal_url
    with browser_client(base_url=portal, headers={"Origin": portal}) as stranger:
        assert sign_in(stranger, portal, name, password).status_code == 401
    assert admin.api("POST", f"/people/{name}/enable").json()["disabled"] is False
    signed_in(portal_in_process, name, password).close()
    audited(engine, "person.disabled", name)


def test_the_person_page_shows_storage_and_publications_and_changes_groups_and_admin(
        portal_in_process: Appliance, admin: Admin) -> None:
    name = unique("eve")
    admin.api("POST", "/people", username=name)
    token = mint_storage_token(portal_in_process, name)
    for path, body in (("a.ipynb", b'{"cells": []}'), ("b.csv", b"x,y\n1,2\n")):
        assert httpx.put(f"{portal_in_process.portal_url}/api/storage/v1/write/{quote(path)}", content=body,
                         headers={"Authorization": f"Bearer {token}"}).status_code in (200, 201)
    view = admin.api("GET", f"/people/{name}").json()
    assert view["storage"] == {"files": 2, "bytes": 13 + 8} and view["publications"] == []
    assert view["server"]["state"] == "stopped"  # no hub in this appliance: never placed
    page = admin.http.get(f"/admin/people/{name}")
    assert page.status_code == 200 and "21 B" in page.text and 'aria-current="page">People' in page.text
    grouped = admin.form(f"/admin/people/{name}", f"/admin/people/{name}/groups", groups="optics, physics")
    assert grouped.status_code == 303
    assert admin.api("PUT", f"/people/{name}/admin", admin=True).json()["admin"] is True
    after = admin.api("GET", f"/people/{name}").json()["person"]
    assert after["groups"] == ["optics", "physics"] and after["admin"] is True
    bad = admin.api("PUT", f"/people/{name}/groups", groups=["no spaces"])
    assert bad.status_code == 400 and "not a valid group name" in bad.json()["error"]
    missing = admin.api("POST", "/people/nobody-like-this/disable")
    assert missing.status_code == 404 and "there is no account named" in missing.json()["error"]


def test_admin_tokens_read_or_write_and_stop_with_revocation_or_the_owners_role(
        portal_in_process: Appliance, admin: Admin) -> None:
    owner = unique("ops")
    add_user(portal_in_process, owner, "--admin")
    tokens = {}
    for scope in ("read", "write"):
        made = portal_in_process.cli("users", "admin-token", "create", owner, "--name", f"nightly-{scope}",
                                     "--scope", scope, "--json")
        assert made.returncode == 0, made.stderr
        tokens[scope] = json.loads(made.stdout)
    portal = portal_in_process.portal_url

    def call(scope: str, method: str, path: str, **body: Any) -> httpx.Response:
        return httpx.request(method, portal + API + path, json=body or None,
                             headers={"Authorization": f"Bearer {tokens[scope]['token']}"})

    assert call("read", "GET", "/people?limit=1").status_code == 200
    refused = call("read", "POST", "/people", username=unique("x"))
    assert refused.status_code == 403 and "scope write" in refused.json()["error"]
    assert call("write", "POST", "/people", username=unique("scripted")).status_code == 201  # no CSRF needed
    listed = portal_in_process.cli("users", "admin-token", "list")
    assert "nightly-read" in listed.stdout and tokens["read"]["token"] not in listed.stdout
    assert portal_in_process.cli("users", "admin-token", "revoke", str(tokens["read"]["id"])).returncode == 0
    assert call("read", "GET", "/people?limit=1").status_code == 401
    assert portal_in_process.cli("users", "make-admin", owner, "--revoke").returncode == 0
    gone = call("write", "GET", "/people?limit=1")
    assert gone.status_code == 401 and "no longer an administrator" in gone.json()["error"]


def walk(admin: Admin, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = ""
    for _ in range(1000):
        page = admin.http.get(API + "/people", params={**params, "after": after, "limit": "7"})
        assert page.status_code == 200, page.text
        found += page.json()["people"]
        if not (after := page.json()["next"] or ""):
            return found
    pytest.fail("the pages never ended")


def test_keyset_pages_visit_everyone_once_in_order_with_the_never_signed_in_at_one_end(
        admin: Admin, engine: Engine) -> None:
    prefix = unique("ks")
    seed_accounts(engine, prefix, 60)
    for order in ("asc", "desc"):
        people = walk(admin, q=prefix, sort="last_login", order=order)
        assert len(people) == 60 and len({p["username"] for p in people}) == 60, order
        logins = [p["last_login_at"] for p in people]
        never = [login is None for login in logins]
        assert never == (sorted(never) if order == "asc" else sorted(never, reverse=True)), order
        times = [login for login in logins if login]
        assert times == sorted(times, reverse=order == "desc"), order
    by_name = walk(admin, q=prefix, sort="username", order="desc")
    assert [p["username"] for p in by_name] == sorted((p["username"] for p in by_name), reverse=True)
    physics = walk(admin, q=prefix, group="physics")
    assert len(physics) == 6 and all(p["groups"] == ["physics"] for p in physics)
    broken = admin.http.get(API + "/people", params={"after": "garbage", "sort": "created"})
    assert broken.status_code == 400 and "start from the first page" in broken.json()["error"]


def test_group_counts_are_exact_at_once_whoever_changes_them(portal_in_process: Appliance, admin: Admin,
                                                             engine: Engine) -> None:
    """The group filter's counts come from identity.group_members, kept by triggers on every change to
    accounts: the command line's change shows at once (a count kept 30 s by the portal did not)."""
    group, other = unique("grp"), unique("grp")

    def counts() -> dict[str, int]:
        answer = admin.api("GET", "/groups")
        assert answer.status_code == 200, answer.text[:300]
        return {found["name"]: found["members"] for found in answer.json()["groups"]}

    first, second = unique("gm"), unique("gm")
    assert admin.api("POST", "/people", username=first, groups=[group]).status_code == 201
    assert counts()[group] == 1
    assert portal_in_process.cli("users", "add", second).returncode == 0
    changed = portal_in_process.cli("users", "groups", second, "--add", group, "--add", other)
    assert changed.returncode == 0, changed.stderr
    assert (counts()[group], counts()[other]) == (2, 1)  # the other process's change, at once
    page = admin.http.get("/admin/people")
    assert page.status_code == 200 and f"{group} (2)" in page.text
    assert admin.api("PUT", f"/people/{second}/groups", groups=[group]).status_code == 200
    assert counts()[group] == 2 and other not in counts()  # a group nobody is in is gone
    with engine.begin() as connection:  # and what SQL does to accounts is counted too
        connection.execute(text("DELETE FROM identity.accounts WHERE username = :u"), {"u": first})
    assert counts()[group] == 1
    with engine.connect() as connection:
        kept = dict(connection.execute(text("SELECT name, members FROM identity.group_members")).all())
        counted = dict(connection.execute(text("SELECT name, count(*) FROM identity.accounts, unnest(groups) name "
                                               "GROUP BY name")).all())
    assert kept == counted


SQL_ORDER = {("username", "asc"): "username, id", ("name", "desc"): "display_name DESC, id DESC",
             ("last_login", "asc"): "last_login_at ASC NULLS LAST, id", ("created", "desc"): "created_at DESC, id DESC",
             ("last_login", "desc"): "last_login_at DESC NULLS FIRST, id DESC"}


def test_a_search_matching_few_is_sorted_from_its_matches_and_one_matching_many_walks_the_sort_order(
        admin: Admin, engine: Engine) -> None:
    """Up to READ_WHOLE matches are looked up by the trigram indexes and sorted, more are found walking the sort
    order (identity.directory): either way every match comes once, in the order PostgreSQL sorts them."""
    prefix = unique("sr")
    seed_accounts(engine, prefix, READ_WHOLE + 300)
    for typed, count in ((f"{prefix}0001", 100), (prefix, READ_WHOLE + 300)):  # usernames <prefix>000100-000199
        for (sort, order), order_by in SQL_ORDER.items():
            with engine.connect() as connection:
                expected = list(connection.execute(text(
                    f"SELECT username FROM identity.accounts WHERE username ILIKE :p OR display_name ILIKE :p OR "
                    f"email ILIKE :p ORDER BY {order_by}"), {"p": f"%{typed}%"}).scalars())
            found: list[str] = []
            after = ""
            while True:
                page = admin.http.get(API + "/people", params={"q": typed, "sort": sort, "order": order,
                                                                "limit": "200", "after": after})
                assert page.status_code == 200, page.text[:300]
                found += [person["username"] for person in page.json()["people"]]
                if not (after := page.json()["next"] or ""):
                    break
            assert len(expected) == count and found == expected, (typed, sort, order)


def test_people_pages_and_search_at_100000_accounts(portal_in_process: Appliance, admin: Admin,
                                                    engine: Engine) -> None:
    """At 100,000 accounts search uses the trigram indexes and keyset pages walk on; how fast they are is
    bench/admin.py's to measure (tests assert behaviour, not figures)."""
    prefix = unique("load")
    seed_accounts(engine, prefix, SEEDED)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM identity.accounts")).scalar_one() > SEEDED
        plan = "\n".join(connection.execute(text(
            "EXPLAIN SELECT id FROM identity.accounts WHERE username ILIKE '%ace 4217%' OR display_name ILIKE "
            "'%ace 4217%' OR email ILIKE '%ace 4217%' ORDER BY username, id LIMIT 51")).scalars())
    assert "accounts_search_" in plan, plan  # the trigram indexes, not a scan of 100,000 rows

    seen: set[str] = set()
    after = ""
    for _ in range(20):  # 20 keyset pages of 50 deep into the sort by last sign-in, newest first
        answer = admin.http.get(API + "/people", params={"sort": "last_login", "order": "desc", "limit": "50",
                                                         "after": after})
        assert answer.status_code == 200, answer.text[:300]
        page = {person["username"] for person in answer.json()["people"]}
        assert len(page) == 50 and not page & seen  # each page goes on where the last one stopped
        seen |= page
        after = answer.json()["next"]
    for number in (0, 17, 59):
        found = admin.http.get("/admin/people", params={"q": f"{prefix}0{number:02d}1"})  # ten people each
        assert found.status_code == 200 and f"{prefix}0{number:02d}10" in found.text
