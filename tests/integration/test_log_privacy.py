"""Logs, the configuration and secrets are the appliance's alone, a member's server output goes to a log of
its own, and sign-in codes never reach a log. The attacker is a member's own kernel, in a server a hub
spawned (under root the local spawner runs it as the system user jupyter-<name>)."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import Member, run_in_kernel, server_log, server_url, start_server
from tests.integration.oauth import Browser, browser_client

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="members' servers run as users of their own under root")

TRY_ALL = """
import json, os, socket
def attempt(kind, path):
    try:
        if kind == "read":
            open(path, "rb").read(1)
        elif kind == "list":
            os.listdir(path)
        else:
            socket.socket(socket.AF_UNIX).connect(path)
    except PermissionError:
        return "denied"
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    return "ALLOWED"
print(json.dumps({"uid": os.getuid(), "tried": {f"{kind} {path}": attempt(kind, path) for kind, path in TRIES}}))
"""


@dataclass
class Lab:
    appliance: Appliance
    config: Path  # where an earlier installer left it readable by everyone
    member: str
    server: str  # the member's server, …/user/<name>
    browser: httpx.Client  # the member's, which signed in through the hub
    requested: list[str] = field(default_factory=list)  # every URL that browser asked for


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    etc = Path(tempfile.mkdtemp(prefix="appliance-etc-"))
    os.chmod(etc, 0o755)  # as /etc/appliance
    config = etc / "appliance.toml"
    config.write_text("# written by an earlier installer\n[hubs]\n")
    config.chmod(0o644)
    try:
        for appliance in running(hubs=1, APPLIANCE_CONFIG=str(config)):
            name = f"p{secrets.token_hex(4)}"
            member = Member.new(appliance, name)
            requested: list[str] = []
            hooks = {"request": [lambda request, seen=requested: seen.append(str(request.url))]}
            with browser_client(event_hooks=hooks) as browser:
                landed = start_server(appliance, f"{appliance.proxy_url}/hubs/{member.hub_id()}", name,
                                      member.password, browser)
                yield Lab(appliance, config, name, server_url(landed), browser, requested)
            Browser.close_all()
    finally:
        shutil.rmtree(etc, ignore_errors=True)


def wait_for_text(path: Path, text: str, timeout: float = 15) -> str:
    """The file's text once it holds ``text``."""
    deadline = time.monotonic() + timeout
    while True:
        found = path.read_text(errors="replace") if path.exists() else ""
        if text in found:
            return found
        assert time.monotonic() < deadline, f"{text!r} did not reach {path} within {timeout} s:\n{found[-2000:]}"
        time.sleep(0.1)


def test_a_members_kernel_reads_no_log_configuration_or_secret(lab: Lab) -> None:
    home = lab.appliance.home
    tries = [("read", str(path)) for path in sorted(home.joinpath("logs").rglob("*"))
             + sorted(home.joinpath("secrets").iterdir()) + sorted(home.joinpath("hubs").rglob("*")) + [lab.config]
             if path.is_file()]
    tries += [("list", str(home / folder)) for folder in ("logs", "logs/members", "secrets", "hubs", "hubs/1", "run",
                                                           "postgres", "run/postgres")]
    tries += [("connect", str(home / "run" / "control.sock"))]
    assert len(tries) > 20 and (home / "logs" / "members" / f"{lab.member}.log").is_file(), tries

    printed = run_in_kernel(lab.browser, lab.server, f"TRIES = {tries!r}\n{TRY_ALL}")
    report = json.loads(printed)
    assert report["uid"] == pwd.getpwnam(f"jupyter-{lab.member}").pw_uid
    print("\n".join(f"{outcome:>8}  {attempt}" for attempt, outcome in report["tried"].items()))  # what it tried
    assert set(report["tried"].values()) == {"denied"}, report["tried"]
    assert lab.config.stat().st_mode & 0o777 == 0o600  # tightened at start-up, and said so
    assert f"{lab.config} was readable by other users" in (home / "logs" / "supervisor.log").read_text()


def test_a_members_server_output_goes_to_their_own_log_marked_as_theirs(lab: Lab) -> None:
    forged = f"[I 2026-11-30 08:00:00.000 ApplianceHub] fake {secrets.token_hex(4)}"
    run_in_kernel(lab.browser, lab.server, f"import sys; print({forged!r}, file=sys.__stderr__, flush=True)")
    own = server_log(lab.appliance, lab.member)
    wait_for_text(own, forged)
    assert forged not in (lab.appliance.home / "logs" / "hub-1.log").read_text()
    assert (own.stat().st_uid, own.stat().st_mode & 0o777) == (0, 0o600)
    shown = lab.appliance.cli("logs", f"member:{lab.member}", "-n", "100")
    assert f"member:{lab.member} | {forged}" in shown.stdout.splitlines(), shown.stdout + shown.stderr
    every = [line for line in lab.appliance.cli("logs", "-n", "100").stdout.splitlines() if forged in line]
    assert every == [f"member:{lab.member} | {forged}"]


def test_no_log_holds_a_sign_in_code_or_state(lab: Lab) -> None:
    secret_values = {value for url in lab.requested for key, values in parse_qs(urlsplit(url).query).items()
                     for value in values if key in ("code", "state")}
    callback = next(url for url in lab.requested if "/hub/oauth_callback?" in url)
    with httpx.Client(timeout=30) as stranger:  # a replayed callback, without the browser's state cookie
        assert stranger.get(callback).status_code == 400
    logs = lab.appliance.home / "logs"
    wait_for_text(logs / "hub-1.log", "400 GET /hubs/1/hub/oauth_callback?code=[secret]&state=[secret]")
    wait_for_text(logs / "portal.log", "GET /oauth/authorize?")
    assert len(secret_values) >= 4, lab.requested  # the hub's code and state, and the user server's
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        assert not [value for value in secret_values if value in text], f"{log.name} holds a code or state"
