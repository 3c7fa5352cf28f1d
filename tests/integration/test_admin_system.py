"""The console's System page and API on a running appliance: what `appliance status` shows, versions, sizes,
free disk, the last backup, the configuration and recent errors, and never a secret: every secret the
configuration and the home hold is looked for in the page and the API's answer, with some planted where
the report reads (a component's log, a configuration value)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.admin.system import home_secrets
from appliance.application.portal import installation
from appliance.config import load_config
from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.oauth import Browser, add_user

API = "/api/admin/v1"
EXTERNAL_PASSWORD = "planted-url-password-31415"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    """One hub."""
    yield from running(hubs=1)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def admin_browser(appliance: Appliance, name: str) -> Browser:
    browser = Browser(appliance)
    assert browser.sign_in(name, add_user(appliance, name, "--admin")).status_code == 303
    return browser


def every_secret(appliance: Appliance) -> list[str]:
    """Each secret of the home (read here from the files, independently of the code under test) and the
    configuration's."""
    home = appliance.home
    files = [*(home / "secrets").iterdir(), *home.glob("hubs/*/jupyterhub_cookie_secret")]
    found = [line.strip() for path in files if path.is_file() for line in path.read_text().splitlines()]
    assert len(found) >= 8, found  # the keys, tokens, passwords and cookie secrets a running appliance has
    return [secret for secret in found if len(secret) >= 6]


def plant_secrets_in_the_logs(appliance: Appliance, secrets: list[str]) -> None:
    """Error lines that quote secrets, as a careless library might log them."""
    with open(appliance.home / "logs" / "hub-1.log", "a") as log:
        for secret in secrets:
            log.write(f"[E 2026-11-30 12:00:00 JupyterHub app:1] token refused: {secret}\n")
        log.write(f"[E 2026-11-30 12:00:01 JupyterHub app:2] cannot reach postgresql://app:{EXTERNAL_PASSWORD}@db/x\n")
        log.write("[E 2026-11-30 12:00:02 JupyterHub app:3] GET /hub/oauth_callback?code=one-time-code-2718 failed\n")


def test_the_system_page_and_api_show_the_system_and_never_a_secret(lab: Appliance) -> None:
    secrets = every_secret(lab)
    plant_secrets_in_the_logs(lab, secrets)
    browser = admin_browser(lab, "sysadmin")
    page = browser.http.get("/admin/system")
    assert page.status_code == 200, page.text[:2000]
    answer = browser.http.get(f"{API}/system")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    shown = [html.unescape(page.text), json.dumps(report)]
    for secret in [*secrets, EXTERNAL_PASSWORD, "one-time-code-2718"]:
        assert not any(secret in text for text in shown), f"a secret is shown: {secret[:4]}…"
    assert "[secret]" in shown[0] and "[secret]" in shown[1]  # the planted lines are there, redacted

    # what `appliance status` shows
    components = {c["name"]: c for c in report["components"]}
    assert set(components) >= {"postgres", "portal", "proxy", "hub-1", "renderer"}
    assert components["hub-1"]["state"] == "healthy" and components["hub-1"]["pid"]
    assert [hub["id"] for hub in report["hubs"]] == ["1"] and "isolated" in report["members"]
    assert all(c["name"] in page.text for c in report["components"])
    # versions, sizes, disk, configuration, errors
    assert report["versions"]["appliance"] and report["versions"]["postgresql"].startswith("15")
    assert report["versions"]["jupyterhub"][0].isdigit() and report["versions"]["node"].startswith("v")
    assert {db["name"] for db in report["databases"]} >= {"appliance", "hub_1"}
    assert all(db["bytes"] > 1_000_000 for db in report["databases"])
    assert report["disk"][0]["free_bytes"] > 0
    knobs = {f"{k['section']}.{k['key']}": k for k in report["configuration"]["knobs"]}
    assert knobs["hubs.count"]["value"] == 1 and knobs["hubs.count"]["source"] == "env APPLIANCE_HUBS_COUNT"
    assert knobs["postgres.url"]["secret"] is True
    errors = {entry["component"]: entry["lines"] for entry in report["errors"]}
    assert any("token refused: [secret]" in line for line in errors["hub-1"])
    assert "members" not in errors


def test_the_last_backup_appears_once_made(lab: Appliance, tmp_path: Path) -> None:
    browser = admin_browser(lab, "backupadmin")
    target = tmp_path / "lab.backup"
    made = lab.cli("backup", str(target), timeout=300)
    assert made.returncode == 0, made.stderr
    last = browser.http.get(f"{API}/system").json()["last_backup"]
    assert last["file"] == str(target) and last["bytes"] == target.stat().st_size and "appliance" in last["databases"]
    assert str(target) in browser.http.get("/admin/system").text


def test_the_redactor_knows_every_secret_the_test_finds(lab: Appliance) -> None:
    """The code's list of the home's secrets covers what this test finds on its own (a new secret file
    would be shown otherwise)."""
    known = set(home_secrets(installation(load_config(environ=lab.env))))
    assert set(every_secret(lab)) <= known
