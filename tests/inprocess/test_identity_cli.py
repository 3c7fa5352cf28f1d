"""`appliance users …` and `appliance clients …` against the real database."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.harness import Appliance
from tests.integration.oauth import Browser, register_client


def test_users_lifecycle(portal_in_process: Appliance) -> None:
    cli = portal_in_process.cli
    added = subprocess.run([sys.executable, "-m", "appliance", "users", "add", "Hopper", "--password-stdin",
                            "--email", "grace@lab.org", "--group", "navy"], input="given-password-1\n",
                           env=portal_in_process.env, capture_output=True, text=True, check=False)
    assert added.returncode == 0 and added.stdout.strip() == "created hopper"  # case-folded; no password echoed
    listed = {u["username"]: u for u in json.loads(cli("users", "list", "--json").stdout)}
    assert listed["hopper"]["email"] == "grace@lab.org" and listed["hopper"]["groups"] == ["navy"]
    assert listed["admin"]["admin"] is True
    assert Browser(portal_in_process).sign_in("hopper", "given-password-1").status_code == 303

    reset = cli("users", "set-password", "hopper")
    new_password = reset.stdout.strip().rsplit(" ", 1)[-1]
    assert Browser(portal_in_process).sign_in("hopper", "given-password-1").status_code == 401
    assert Browser(portal_in_process).sign_in("hopper", new_password).status_code == 303
    Browser.close_all()

    assert cli("users", "groups", "hopper", "--add", "cs").stdout.strip() == "cs, navy"
    duplicate = cli("users", "add", "HOPPER")
    assert duplicate.returncode == 1 and "an account named 'hopper' already exists" in duplicate.stderr
    bad = cli("users", "add", "grace hopper")
    assert bad.returncode == 1 and "is not a valid username" in bad.stderr
    missing = cli("users", "disable", "nobody-here")
    assert missing.returncode == 1 and "there is no account named 'nobody-here'" in missing.stderr


def test_the_last_administrator_cannot_be_demoted(portal_in_process: Appliance) -> None:
    admins = [u for u in json.loads(portal_in_process.cli("users", "list", "--json").stdout) if u["admin"]]
    if len(admins) == 1:
        refused = portal_in_process.cli("users", "make-admin", admins[0]["username"], "--revoke")
        assert refused.returncode == 1 and "is the last administrator" in refused.stderr
    assert portal_in_process.cli("users", "add", "second-admin", "--admin").returncode == 0
    assert portal_in_process.cli("users", "make-admin", "second-admin", "--revoke").returncode == 0


def test_clients_lifecycle(portal_in_process: Appliance) -> None:
    cli = portal_in_process.cli
    client = register_client(portal_in_process, "viewer", "https://viewer.lab.org/cb", "--name", "Viewer")
    assert cli("clients", "add", "viewer", "--redirect-uri", "https://x/cb").returncode == 1
    bad_uri = cli("clients", "add", "other", "--redirect-uri", "/relative")
    assert bad_uri.returncode == 1 and "must be an absolute http(s) URL" in bad_uri.stderr
    rotated = cli("clients", "rotate-secret", "viewer").stdout.split()[1]
    assert rotated != client.secret
    shown = cli("clients", "list").stdout
    assert "viewer" in shown and client.secret not in shown and rotated not in shown
    assert cli("clients", "remove", "viewer").returncode == 0
    assert "viewer" not in cli("clients", "list").stdout
