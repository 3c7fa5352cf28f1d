"""The portal's web hardening that only its real uvicorn process shows: forwarded headers from a
loopback client of another uid, a flood of wrong passwords, oversized request heads."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.domain import Domain, on_domain
from tests.integration.oauth import add_user, form_value, sign_in

SETPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

# A member's kernel, as far as the portal can tell: a loopback client running as a uid of its own.
# Standard library only, run by the system's python3 as `nobody`.
SPOOFING_CLIENT = r"""
import http.client, json, re, sys, uuid
port, attempts = int(sys.argv[1]), int(sys.argv[2])
spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
portal = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
portal.request("GET", "/login", headers=spoofed)
page = portal.getresponse()
cookies = page.headers.get_all("Set-Cookie") or []
token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
report = {"login_cookies": cookies, "login_hsts": page.headers.get("Strict-Transport-Security"), "statuses": []}
for _ in range(attempts):
    body = f"username=nobody{uuid.uuid4().hex[:8]}&password=wrong-password&next=/&csrf_token={token}"
    portal.request("POST", "/login", body=body, headers={
        **spoofed, "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies[0].split(";")[0],
        "Origin": f"http://127.0.0.1:{port}"})
    answer = portal.getresponse()
    answer.read()
    report["statuses"].append(answer.status)
print(json.dumps(report))
"""


def run_as_nobody(script_dir: Path, *args: str) -> dict[str, object]:
    script = script_dir / "client.py"
    script.write_text(SPOOFING_CLIENT)
    script.chmod(0o644)
    result = subprocess.run([*SETPRIV, "/usr/bin/python3", str(script), *args], capture_output=True, text=True,
                            timeout=120, cwd="/", check=False)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


# ----- forwarded headers ------------------------------------------------------------------------------

def test_spoofed_forwarded_headers_from_a_loopback_client_of_another_uid_change_nothing(
        appliance: Appliance) -> None:
    appliance.env["APPLIANCE_IDENTITY_LOGIN_MAX_FAILURES_PER_ADDRESS"] = "3"
    appliance.up()
    username = f"v{uuid.uuid4().hex[:8]}"
    password = add_user(appliance, username)

    report = run_as_nobody(appliance.home.parent, str(appliance.portal_port), "3")
    assert report["statuses"] == [401, 401, 401]  # an https Origin check would have refused them with 403
    cookies = report["login_cookies"]
    assert isinstance(cookies, list) and cookies[0].startswith("appliance_presession=")
    assert "secure" not in cookies[0].lower() and report["login_hsts"] is None  # not taken for https

    # the failures were counted against the client's real address, not the one it named
    with httpx.Client(headers={"X-Forwarded-For": "203.0.113.9"}) as trusted:  # the appliance's own uid
        named = sign_in(trusted, appliance.portal_url, username, password)
    assert named.status_code == 303, named.text[:300]
    with httpx.Client() as plain:
        real = sign_in(plain, appliance.portal_url, username, password)
    assert real.status_code == 429 and "Too many failed sign-ins for your address" in real.text


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    yield from on_domain()


def test_through_the_front_proxy_the_proxys_scheme_and_address_count(domain: Domain) -> None:
    password = add_user(domain.appliance, "tls")
    agent = f"agent-{uuid.uuid4().hex}"
    with domain.client() as browser:
        browser.headers.update({"User-Agent": agent, "X-Forwarded-For": "203.0.113.9"})
        signed_in = sign_in(browser, domain.portal, "tls", password)
        assert signed_in.status_code == 303, signed_in.text[:300]
        assert signed_in.headers["set-cookie"].startswith("__Host-appliance_session=")  # the proxy said https
        assert signed_in.headers["strict-transport-security"]
    engine = create_engine(domain.appliance.database_url())
    try:
        with engine.connect() as connection:
            address = connection.execute(text("SELECT address FROM identity.sessions WHERE user_agent = :agent"),
                                         {"agent": agent}).scalar_one()
    finally:
        engine.dispose()
    assert address == "127.0.0.1"  # the proxy's own hop, not what the client put before it


# ----- a flood of wrong passwords, and oversized heads -----------------------------------------------

@pytest.fixture(scope="module")
def flood_target() -> Iterator[Appliance]:
    """An appliance whose lock-outs never stop a flood: every wrong password reaches the hashing."""
    yield from running(hubs=0, APPLIANCE_IDENTITY_LOGIN_MAX_FAILURES_PER_ADDRESS="100000",
                       APPLIANCE_IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT="100000")


def portal_process(appliance: Appliance) -> psutil.Process:
    return next(process for process in appliance.processes() if "appliance.application.portal" in process.cmdline())


class Watch:
    """Samples the portal's RSS and times /healthz, from a thread, while the flood runs."""

    def __init__(self, appliance: Appliance):
        self.process, self.url = portal_process(appliance), f"{appliance.portal_url}/healthz"
        self.peak_rss, self.health_s, self.failures = 0, [0.0], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
                began = time.monotonic()
                if client.get(self.url).status_code != 200:
                    self.failures += 1
                self.health_s.append(time.monotonic() - began)
                self.stop.wait(0.05)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


async def flood(portal: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=portal, timeout=120, limits=limits, headers={"Origin": portal}) as client:
        page = await client.get("/login")
        token = form_value(page.text, "csrf_token")
        return await asyncio.gather(*(
            client.post("/login", data={"username": f"flood{number}", "password": "wrong-password",
                                        "next": "/", "csrf_token": token})
            for number in range(count)))


def test_200_concurrent_wrong_passwords_leave_the_portal_answering_and_small(flood_target: Appliance) -> None:
    password = add_user(flood_target, "steady")
    resting_rss = portal_process(flood_target).memory_info().rss
    with Watch(flood_target) as watch:
        began = time.monotonic()
        try:  # (once in a loaded clean run a connection was closed unanswered: the portal's side, next time)
            answers = asyncio.run(flood(flood_target.portal_url, 200))
        except httpx.HTTPError as failure:
            raise AssertionError(f"{failure!r}; the portal: {flood_target.component('portal')}\n"
                                 f"{(flood_target.home / 'logs' / 'portal.log').read_text()[-4000:]}") from failure
        took = time.monotonic() - began
    statuses = [answer.status_code for answer in answers]
    busy = [answer for answer in answers if answer.status_code == 503]
    print(f"flood: {took:.1f} s, {statuses.count(401)} checked, {len(busy)} busy; RSS "
          f"{resting_rss / 2**20:.0f} MB at rest, peak {watch.peak_rss / 2**20:.0f} MB; "
          f"/healthz worst {max(watch.health_s) * 1000:.0f} ms over {len(watch.health_s) - 1} calls")
    assert set(statuses) <= {401, 503}, statuses
    assert busy and busy[0].headers["retry-after"] and "busy checking other sign-ins" in busy[0].text
    # two hashing slots of 19 MiB, 200 requests and their threads: well under 100 MB more, on any number
    # of cores (glibc's per-thread arenas once kept every thread's hash buffer: +235 MB on CI)
    assert watch.peak_rss - resting_rss < 100 * 2**20, f"{(watch.peak_rss - resting_rss) / 2**20:.0f} MB more"
    assert portal_process(flood_target).memory_info().rss - resting_rss < 50 * 2**20
    # within the supervisor's health check timeout (2 s, supervisor.checks.http_ok): the flood never makes the
    # portal look down (1.35 s seen once in a clean run, with the machines' tests beside it on 2 cores)
    assert watch.failures == 0 and len(watch.health_s) > 3 and max(watch.health_s) < 2.0, watch.health_s
    with httpx.Client() as client:
        assert sign_in(client, flood_target.portal_url, "steady", password).status_code == 303


@pytest.mark.parametrize("headers", [
    {"X-Big": "a" * 100_000},
    {"X-Huge": "a" * 5_000_000},
    {f"X-Many-{number}": "v" for number in range(500)},
], ids=["100 KB", "5 MB", "500 headers"])
def test_oversized_request_heads_are_refused_quickly(flood_target: Appliance, headers: dict[str, str]) -> None:
    began = time.monotonic()
    try:
        refused = httpx.get(f"{flood_target.portal_url}/", headers=headers, timeout=10)
        assert refused.status_code in (400, 431), refused.status_code
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        # uvicorn answers and closes while the client is still sending; closing with unread bytes
        # makes the kernel reset the connection, which the client may see before the answer.
        pass
    assert time.monotonic() - began < 3
    assert portal_process(flood_target).memory_info().rss < 300 * 2**20
    assert httpx.get(f"{flood_target.portal_url}/healthz", timeout=5).status_code == 200
