"""The audit log on a real appliance: identity's security events, the command line's changes, retention,
the admin API's filters and CSV export, and that recording never holds up a sign-in."""

from __future__ import annotations

import csv
import getpass
import io
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from appliance.audit import Actor, Audit, AuditSettings
from tests.harness import Appliance, mint_storage_token
from tests.inprocess.conftest import SessionCluster, serving
from tests.integration import gallery_data
from tests.integration.oauth import Browser, add_user, form_value, register_client

Event = dict[str, Any]
MAX_FAILURES = 3  # identity.login_max_failures_per_account for this module


@pytest.fixture(scope="module")
def lab(postgres_cluster: SessionCluster) -> Iterator[Appliance]:
    # pruning every second, so that the retention test sees it happen
    with serving(postgres_cluster, APPLIANCE_AUDIT_KEEP_DAYS="30", APPLIANCE_AUDIT_PRUNE_INTERVAL_S="1",
                 APPLIANCE_IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT=str(MAX_FAILURES)) as handle:
        yield handle


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


@pytest.fixture(scope="module")
def admin(lab: Appliance) -> Iterator[Browser]:
    name = f"boss{uuid.uuid4().hex[:6]}"
    browser = Browser(lab)
    Browser.opened.remove(browser)  # kept for the module
    assert browser.sign_in(name, add_user(lab, name, "--admin")).status_code == 303
    yield browser
    browser.http.close()


def new_member(lab: Appliance) -> tuple[str, str]:
    name = f"m{uuid.uuid4().hex[:8]}"
    return name, add_user(lab, name)


def cli_events(lab: Appliance, *args: str) -> list[Event]:
    result = lab.cli("audit", "--json", *args)
    assert result.returncode == 0, result.stderr
    found: list[Event] = json.loads(result.stdout)
    return found


def wait_for(lab: Appliance, check: Callable[[list[Event]], bool], *args: str, timeout: float = 15) -> list[Event]:
    """The events ``appliance audit --json ARGS`` lists, once ``check`` holds for them."""
    deadline = time.monotonic() + timeout
    while True:
        found = cli_events(lab, *args)
        if check(found):
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"the audit log never held what was expected for {args}: {json.dumps(found, indent=1)}")
        time.sleep(0.3)


def actions(events: list[Event]) -> list[str]:
    return [event["action"] for event in reversed(events)]  # oldest first


def recent(event: Event, started: datetime) -> bool:
    return started - timedelta(seconds=1) <= datetime.fromisoformat(event["at"]) <= datetime.now(timezone.utc)


# ----- identity's security events ------------------------------------------------------------------

def test_a_wrong_then_a_right_sign_in_are_both_found_with_who_what_when_and_from_where(lab: Appliance) -> None:
    name, password = new_member(lab)
    started = datetime.now(timezone.utc)
    browser = Browser(lab)
    assert browser.sign_in(name, "not the password").status_code == 401
    assert browser.sign_in(name, password).status_code == 303
    found = wait_for(lab, lambda events: len(events) == 2, "--actor", name)
    assert actions(found) == ["sign-in.failed", "sign-in"]
    for event in found:
        assert event["target"] == name and event["address"] == "127.0.0.1" and recent(event, started)


def test_the_failure_that_locks_an_account_out_is_recorded_once(lab: Appliance) -> None:
    name, password = new_member(lab)
    browser = Browser(lab)
    for _ in range(MAX_FAILURES):
        assert browser.sign_in(name, "wrong password").status_code == 401
    assert browser.sign_in(name, password).status_code == 429  # locked out: the right password waits too
    found = wait_for(lab, lambda events: "sign-in.locked-out" in actions(events), "--actor", name)
    assert actions(found) == ["sign-in.failed"] * MAX_FAILURES + ["sign-in.locked-out"]
    locked = found[0]
    assert locked["detail"]["for_s"] > 0 and "Too many failed sign-ins" in locked["detail"]["why"]


def test_refused_tokens_name_the_client_the_endpoint_and_the_error(lab: Appliance) -> None:
    client = register_client(lab, f"tool-{uuid.uuid4().hex[:6]}", "http://127.0.0.1:9/callback")
    refused = httpx.post(f"{lab.public_portal_url}/oauth/token", data={
        "grant_type": "authorization_code", "code": "forged", "redirect_uri": client.redirect_uri,
        "client_id": client.client_id, "client_secret": client.secret, "code_verifier": "x" * 43})
    assert refused.status_code == 400
    wrong_secret = httpx.post(f"{lab.public_portal_url}/oauth/token", auth=(client.client_id, "guessed"),
                              data={"grant_type": "refresh_token", "refresh_token": "forged"})
    assert wrong_secret.status_code == 401
    found = wait_for(lab, lambda events: len(events) == 2, "--action", "token.refused", "--target", client.client_id)
    actor = f"client:{client.client_id}"
    assert [(e["actor"], e["detail"]["endpoint"], e["detail"]["error"], e["detail"]["grant_type"])
            for e in reversed(found)] == [(actor, "token", "invalid_grant", "authorization_code"),
                                          (actor, "token", "invalid_client", "refresh_token")]
    marker = uuid.uuid4().hex
    assert httpx.get(f"{lab.public_portal_url}/oauth/userinfo", headers={
        "Authorization": f"Bearer {marker}", "User-Agent": marker}).status_code == 401
    userinfo = wait_for(lab, lambda events: any(e["detail"].get("endpoint") == "userinfo" for e in events),
                        "--action", "token.refused", "--since", "1m")
    assert userinfo[0]["address"] == "127.0.0.1" and marker not in json.dumps(userinfo)  # the token is not kept


def test_the_storage_api_records_the_tokens_it_refuses_and_never_the_token(lab: Appliance) -> None:
    member, _ = new_member(lab)
    token, forged = mint_storage_token(lab, member), f"forged-{uuid.uuid4().hex}"
    listing = f"{lab.portal_url}/api/storage/v1/list/"
    assert httpx.get(listing, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(listing, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert lab.cli("users", "disable", member).returncode == 0
    deadline = time.monotonic() + 5  # the API keeps a member's standing for a second
    while httpx.get(listing, headers={"Authorization": f"Bearer {token}"}).status_code != 401:  # a disabled member's
        assert time.monotonic() < deadline, "a disabled member's storage token was still taken 5 s later"
        time.sleep(0.2)
    found = wait_for(lab, lambda events: {"storage", f"storage:{member}"} <= {e["target"] for e in events},
                     "--action", "token.refused", "--since", "1m")
    theirs = [e for e in found if e["target"] == f"storage:{member}"]
    assert theirs[0]["actor"] == member and theirs[0]["detail"]["api"] == "storage"
    assert "disabled" in theirs[0]["detail"]["reason"]
    assert any(e["target"] == "storage" and e["actor"] == "" for e in found)
    assert forged not in json.dumps(found) and token not in json.dumps(found)  # tokens are never kept


def test_a_password_change_and_a_wrong_current_password_are_recorded(lab: Appliance) -> None:
    name, password = new_member(lab)
    browser = Browser(lab)
    assert browser.sign_in(name, password).status_code == 303

    def change(current: str) -> httpx.Response:
        page = browser.http.get("/account/password")
        return browser.http.post("/account/password", data={
            "csrf_token": form_value(page.text, "csrf_token"), "current": current, "new": "a new passphrase 1",
            "confirm": "a new passphrase 1"})

    assert change("not my password").status_code == 400
    assert change(password).status_code == 200
    found = wait_for(lab, lambda events: "password.changed" in actions(events), "--actor", name)
    assert actions(found) == ["sign-in", "password.change-failed", "password.changed"]
    assert found[0]["target"] == name and found[0]["address"] == "127.0.0.1"


# ----- the command line's changes ------------------------------------------------------------------

def test_the_command_lines_changes_are_recorded_as_cli_and_found_by_appliance_audit(lab: Appliance) -> None:
    client_id = f"app-{uuid.uuid4().hex[:6]}"
    register_client(lab, client_id, "http://127.0.0.1:9/cb")
    assert lab.cli("clients", "rotate-secret", client_id).returncode == 0
    assert lab.cli("clients", "remove", client_id).returncode == 0
    engine = create_engine(lab.database_url())
    slug = gallery_data.publication(engine, author="ada", title="Spam offer")
    engine.dispose()
    assert lab.cli("gallery", "hide", slug, "--reason", "advertising").returncode == 0
    found = wait_for(lab, lambda events: len(events) == 3, "--target", client_id)
    assert actions(found) == ["oauth-client.added", "oauth-client.secret-rotated", "oauth-client.removed"]
    assert {(e["actor"], e["address"]) for e in found} == {(f"cli:{getpass.getuser()}", "local")}
    hidden = wait_for(lab, lambda events: len(events) == 1, "--action", "gallery", "--search", "advertising")
    assert [(e["action"], e["target"], e["detail"]) for e in hidden] == [
        ("gallery.hidden", slug, {"reason": "advertising", "reports_resolved": 0})]
    table = lab.cli("audit", "--target", client_id)
    assert table.returncode == 0 and "oauth-client.removed" in table.stdout.splitlines()[1]
    exported = lab.cli("audit", "--csv", "--target", client_id)
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0] == ["at", "actor", "action", "target", "address", "detail"] and len(rows) == 4
    refused = lab.cli("audit", "--since", "last tuesday")
    assert refused.returncode == 1 and "give an age such as 30m" in refused.stderr


# ----- retention -----------------------------------------------------------------------------------

def days_before(now: datetime, days: int) -> Callable[[], datetime]:
    return lambda: now - timedelta(days=days)


def test_events_older_than_keep_days_are_pruned_and_newer_ones_kept(lab: Appliance) -> None:
    engine = create_engine(lab.database_url())
    marker = uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc)
    for age_days in (45, 31, 29):  # keep_days is 30
        log = Audit(engine, AuditSettings(), clock=days_before(now, age_days))
        log.record(Actor("retention-test"), "sign-in", f"{marker}-{age_days}")
        log.recorder.close()
    try:
        found = wait_for(lab, lambda events: [e["target"] for e in events] == [f"{marker}-29"], "--search", marker)
    finally:
        engine.dispose()
    assert found[0]["at"].startswith((now - timedelta(days=29)).date().isoformat())


# ----- the admin API and recording's cost ------------------------------------------------------------

def test_the_admin_api_filters_searches_pages_and_exports_csv(lab: Appliance, admin: Browser) -> None:
    typed = f"=HYPERLINK(\"http://evil/{uuid.uuid4().hex[:6]}\")"
    browser = Browser(lab)
    assert browser.sign_in(typed, "whatever it is").status_code == 401
    wait_for(lab, lambda events: len(events) == 1, "--search", typed[12:30])
    api = "/api/admin/v1/audit/events"
    page = admin.http.get(api, params={"action": "sign-in", "since": "1h", "limit": "1"})  # the admin's sign-in too
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["action"] for e in body["events"]] == ["sign-in.failed"] and body["next"]
    older = admin.http.get(api, params={"action": "sign-in", "since": "1h", "limit": "1", "cursor": body["next"]})
    assert older.json()["events"][0]["action"].startswith("sign-in")
    assert older.json()["events"][0]["id"] != body["events"][0]["id"]
    assert admin.http.get(api, params={"since": "soon"}).json()["error"].startswith("since = 'soon'")
    exported = admin.http.get(f"{api}.csv", params={"q": typed[12:30]})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[1][1] == "'" + typed.casefold() and rows[1][2] == "sign-in.failed"  # not a formula in a spreadsheet
    assert wait_for(lab, lambda events: len(events) >= 1, "--action", "audit.exported")[0]["detail"] == {
        "filters": {"q": typed[12:30]}}


def test_a_member_gets_403_and_nobody_401_from_the_audit_api(lab: Appliance) -> None:
    name, password = new_member(lab)
    member = Browser(lab)
    assert member.sign_in(name, password).status_code == 303
    for path in ("/api/admin/v1/audit/events", "/api/admin/v1/audit/events.csv"):
        assert member.http.get(path).status_code == 403
        assert httpx.get(f"{lab.public_portal_url}{path}").status_code == 401
    assert member.http.get("/admin/audit").status_code == 403
    assert Browser(lab).http.get("/admin/audit").status_code == 303


def test_a_stuck_audit_table_neither_fails_nor_slows_a_sign_in(lab: Appliance) -> None:
    name, password = new_member(lab)

    def sign_in_times(count: int) -> list[float]:
        times = []
        for _ in range(count):
            browser = Browser(lab)
            started = time.perf_counter()
            assert browser.sign_in(name, password).status_code == 303
            times.append(time.perf_counter() - started)
        return times

    free = sign_in_times(5)
    engine = create_engine(lab.database_url())
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE audit.events IN ACCESS EXCLUSIVE MODE"))  # no write gets through
        held = sign_in_times(5)
        holder.rollback()
    engine.dispose()
    print(f"sign-in p50 {statistics.median(free) * 1000:.0f} ms with the audit table free, "
          f"{statistics.median(held) * 1000:.0f} ms with it locked")
    assert statistics.median(held) < statistics.median(free) * 1.5 + 0.1
    wait_for(lab, lambda events: len(events) == 10, "--actor", name)  # written once the lock went
