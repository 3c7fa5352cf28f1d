"""Members are each other's adversaries. A member serves an attack page from their own server (their
own jupyter_server configuration: nothing the appliance can forbid), and a colleague, then an admin,
opens a link to it in Chromium while signed in with their JupyterLab running. The page tries to read
and write the colleague's files, run code in their kernel and terminal, get a hub token and read the
portal's session, and reports everything it obtained to a listener run by this test. On the trial
names and on a lab's own domain every member's server has a host of its own, so the listener must receive
nothing of theirs."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import ARGS, CHROMIUM
from tests.e2e.listener import Listener
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.domain import HUB_HOST, PORTAL_HOST, on_domain
from tests.integration.lab import start_server
from tests.integration.oauth import add_user, browser_client, sign_in
from tests.integration.storage_client import StorageCaller, mint

ATTACK_PAGE = Path(__file__).parent / "attack"
SECRET = "the-colleagues-unpublished-result-7f3a"
PWNED_FILE = Path("/tmp/pwned-by-attacker")


@dataclass
class Lab:
    appliance: Appliance
    member_origin: Callable[[str], str]  # a member's own server's origin
    listener: Listener
    attack_url: str = ""


def plant_attack_page(appliance: Appliance, attacker: str) -> None:
    """What any member can do from their own kernel: a ~/.jupyter/jupyter_server_config.py that makes
    their server serve a page of theirs (here before their server's first start, as the local spawner's
    system user for them, jupyter-<name>, with their home in the appliance's members folder)."""
    home, system_user = appliance.home / "members" / attacker, f"jupyter-{attacker}"
    home.mkdir(mode=0o700, parents=True)
    try:
        pwd.getpwnam(system_user)
        subprocess.run(["usermod", "--home", str(home), system_user], check=True)
    except KeyError:
        subprocess.run(["useradd", "--home-dir", str(home), "--shell", "/bin/bash", "--comment",
                        f"lab member {attacker}", system_user],
                       check=True)
    shutil.copytree(ATTACK_PAGE, home / "attack")
    (home / ".jupyter").mkdir()
    (home / ".jupyter" / "jupyter_server_config.py").write_text(
        f"c.ServerApp.extra_static_paths = [{str(home / 'attack')!r}]\n")
    account = pwd.getpwnam(system_user)
    for path in [home, *home.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)


@pytest.fixture(scope="module", params=["trial names", "own domain"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """An appliance with one hub where mallory's server serves the attack page: on the trial names
    (lab.localhost, plain HTTP) or on a lab's own domain (lab.test, HTTPS with a throwaway CA)."""
    if request.param == "trial names":
        for appliance in running(hubs=1):
            yield from with_attacker(Lab(appliance, trial_member_origin(appliance.proxy_port), Listener()),
                                     browser_client)
    else:
        for domain in on_domain():
            yield from with_attacker(Lab(domain.appliance, domain.member_host, Listener()), domain.client)


def trial_member_origin(port: int) -> Callable[[str], str]:
    return lambda name: f"http://{name}.hub.lab.localhost:{port}"


def with_attacker(lab: Lab, client: Callable[[], httpx.Client]) -> Iterator[Lab]:
    appliance = lab.appliance
    plant_attack_page(appliance, "mallory")
    password, portal = add_user(appliance, "mallory"), appliance.public_portal_url
    with client() as browser:
        assert sign_in(browser, portal, "mallory", password).status_code == 303
        hub_id = browser.get(f"{portal}/api/discovery/v1/me").json()["hub"]
        start_server(appliance, f"{appliance.proxy_url}/hubs/{hub_id}", "mallory", password, browser)
    lab.attack_url = f"{lab.member_origin('mallory')}/hubs/1/user/mallory/static/attack.html"
    yield lab


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """Chromium that finds lab.test's names on loopback and trusts the test CA's certificate for them."""
    rules = f"--host-resolver-rules=MAP {PORTAL_HOST} 127.0.0.1, MAP {HUB_HOST} 127.0.0.1, MAP *.{HUB_HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, rules])
        yield browser
        browser.close()


def open_the_link(chromium: Chromium, lab: Lab, victim: str, *add_args: str) -> tuple[dict[str, Any], list[str]]:
    """``victim`` signs in, works in JupyterLab (a kernel and a terminal running), then opens the attacker's
    link in another tab. The attacker's report, and every cookie value the victim's browser holds."""
    appliance = lab.appliance
    password = add_user(appliance, victim, *add_args)
    StorageCaller(appliance, mint(appliance, victim)).write(
        "secret.ipynb", json.dumps({"cells": [], "metadata": {"note": SECRET}, "nbformat": 4,
                                    "nbformat_minor": 5}).encode()).raise_for_status()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{appliance.public_portal_url}/login?next=/research")
    page.get_by_label("Username").fill(victim)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.frame_locator("#lab").locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    server = next(frame for frame in page.frames if f"/user/{victim}/lab" in frame.url)
    assert server.url.startswith(lab.member_origin(victim) + "/"), server.url
    kernel = server.evaluate("""async () => {
        const xsrf = document.cookie.match(/_xsrf=([^;]+)/)[1];
        const post = (path) => fetch(location.pathname.replace(/lab.*$/, path),
                                     {method: "POST", headers: {"X-XSRFToken": xsrf}}).then((r) => r.json());
        await post("api/terminals");
        return (await post("api/kernels")).id;
    }""")
    attack = context.new_page()
    attack.goto(f"{lab.attack_url}?" + urlencode({
        "victim": victim, "kernel": kernel, "listener": lab.listener.url, "portal": appliance.public_portal_url,
        "hub": appliance.proxy_url, "server": f"{lab.member_origin(victim)}/hubs/1/user/{victim}"}))
    report = lab.listener.report()
    expect(attack).to_have_title("attack done")
    cookies = [cookie["value"] for cookie in context.cookies() if len(cookie["value"]) >= 8]
    kernels = server.evaluate("""() => fetch(location.pathname.replace(/lab.*$/, "api/kernels"),
        {headers: {"X-XSRFToken": document.cookie.match(/_xsrf=([^;]+)/)[1]}}).then((r) => r.json())""")
    assert isinstance(kernels, list) and [found["id"] for found in kernels] == [kernel], kernels  # none started
    page.goto(f"{appliance.public_portal_url}/api/discovery/v1/me")  # still signed in as themselves
    assert json.loads(page.locator("body").inner_text())["hub"] == "1"
    context.close()
    return report, cookies


def assert_nothing_obtained(report: dict[str, Any], cookies: list[str], victim: str, lab: Lab) -> None:
    appliance, attempts = lab.appliance, report["attempts"]
    assert report["origin"] == lab.member_origin("mallory"), report
    assert len(attempts) >= 20, attempts  # the page ran every attempt in the victim's browser
    text = json.dumps(report)
    assert SECRET not in text
    assert not [value for value in cookies if value in text], "a cookie of the victim reached the attacker"
    readable = {name: result for name, result in attempts.items() if re.match(r"\d{3} ", result)}
    assert not readable, readable  # no answer of another origin was readable
    for name in ("colleague's JupyterLab framed", "the hub's token page framed", "the portal's home page framed"):
        assert attempts[name].startswith("refused"), (name, attempts[name])
    for name in ("run code in the colleague's kernel", "the colleague's terminal"):
        assert attempts[name] in ("refused", "no answer"), (name, attempts[name])
    assert not PWNED_FILE.exists()
    listing = StorageCaller(appliance, mint(appliance, victim)).call("GET", "list", "").json()
    assert [entry["name"] for entry in listing["entries"]] == ["secret.ipynb"], listing  # nothing written


def test_a_colleague_who_opens_a_members_page_gives_away_nothing(lab: Lab, chromium: Chromium) -> None:
    report, cookies = open_the_link(chromium, lab, "alice")
    assert_nothing_obtained(report, cookies, "alice", lab)


def test_an_admin_who_opens_a_members_page_gives_away_nothing(lab: Lab, chromium: Chromium) -> None:
    report, cookies = open_the_link(chromium, lab, "ada", "--admin")
    assert_nothing_obtained(report, cookies, "ada", lab)
