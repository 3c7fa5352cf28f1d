"""The System page's report hides every secret: the redactor, the secrets it is given, the errors it reads."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.admin.system import HIDDEN, Redactor, home_secrets, recent_errors
from appliance.application.portal import installation
from appliance.config import MASK, load_config


def test_the_redactor_hides_secrets_url_passwords_and_secret_parameters_anywhere_in_a_report() -> None:
    redactor = Redactor(["s3cr3t-value-123", "short", ""])
    report = {"line": "failed with key s3cr3t-value-123 twice: s3cr3t-value-123",
              "nested": [{"url": "postgresql://app:hunter2pass@db.example.org/appliance"}],
              "logged": "GET /oauth/callback?code=abc123&state=xyz HTTP/1.1", "count": 3, "none": None,
              "word": "a short word stays"}
    shown = redactor.deep(report)
    assert "s3cr3t-value-123" not in str(shown) and shown["line"].count(HIDDEN) == 2
    assert shown["nested"][0]["url"] == f"postgresql://app:{HIDDEN}@db.example.org/appliance"
    assert "abc123" not in shown["logged"] and "xyz" not in shown["logged"]
    assert shown["count"] == 3 and shown["none"] is None and shown["word"] == "a short word stays"


def test_every_secret_of_the_home_and_the_configuration_is_known_to_the_redactor(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / "discovery-key").write_text("discovery-key-value\n")
    (home / "secrets" / "initial-admin-password").write_text("admin\nfirst-password-xyz\n")
    (home / "hubs" / "1").mkdir(parents=True)
    (home / "hubs" / "1" / "jupyterhub_cookie_secret").write_text("cafebabe" * 8 + "\n")
    url = "postgresql://app:external-db-password@db.example.org/appliance"
    config = load_config(home=home, environ={"APPLIANCE_POSTGRES_URL": url, "APPLIANCE_HUBS_COUNT": "2"})
    found = home_secrets(installation(config))
    assert {"discovery-key-value", "first-password-xyz", "cafebabe" * 8, url} <= set(found)
    from appliance.discovery import hub_credentials

    assert hub_credentials(config.home).for_hub("2") in found
    knobs = {f"{knob['section']}.{knob['key']}": knob for knob in installation(config).knobs}
    assert knobs["postgres.url"]["value"] == MASK and knobs["postgres.url"]["source"] == "env APPLIANCE_POSTGRES_URL"
    assert knobs["hubs.count"]["value"] == 2


def test_recent_errors_are_each_component_logs_error_lines_newest_log_first(tmp_path: Path) -> None:
    (tmp_path / "portal.log").write_text("INFO: ok\nERROR: boom in portal\nINFO: fine\n")
    (tmp_path / "hub-1.log").write_text("[I 12:00 JupyterHub] ok\n[E 12:01 JupyterHub] spawn failed\n"
                                        "Traceback (most recent call last):\n")
    (tmp_path / "proxy.log").write_text("12:00:00.000 [ConfigProxy] info: fine\n")
    os.utime(tmp_path / "portal.log", (1, 1))
    (tmp_path / "members").mkdir()
    (tmp_path / "members" / "mallory.log").write_text("ERROR: the appliance is broken, call me\n")
    found = recent_errors(tmp_path)
    assert [entry["component"] for entry in found] == ["hub-1", "portal"]
    assert found[0]["lines"] == ["[E 12:01 JupyterHub] spawn failed", "Traceback (most recent call last):"]
    assert found[1]["lines"] == ["ERROR: boom in portal"]
