"""The real appliance: all healthy after up, healing after kill -9, clean shutdown, one per home."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.oauth import Browser, add_user

HEAL_TIMEOUT_S = 30  # back-off starts at 0.5 s; PostgreSQL recovery and a portal start take a few s


def write_row(appliance: Appliance) -> str:
    value = uuid.uuid4().hex
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS test_rows (value text PRIMARY KEY)"))
        connection.execute(text("INSERT INTO test_rows VALUES (:v)"), {"v": value})
    engine.dispose()
    return value


def row_exists(appliance: Appliance, value: str) -> bool:
    engine = create_engine(appliance.database_url())
    with engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM test_rows WHERE value = :v"), {"v": value}).first()
    engine.dispose()
    return found is not None


def gone(pid: int) -> bool:
    """Exited (a zombie counts: where PID 1 is not an init it may never be reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_all_components_healthy_after_up(running_appliance: Appliance) -> None:
    report = running_appliance.status()
    assert report["exit_code"] == 0
    assert [c["name"] for c in report["components"]] == ["postgres", "portal", "proxy", "renderer"]
    for component in report["components"]:
        assert component["state"] == "healthy"
        assert psutil.pid_exists(component["pid"])
        assert component["restarts"] == 0
    assert report["components"][1]["address"] == f"127.0.0.1:{running_appliance.portal_port}"


def test_portal_serves_home_page_health_and_status(running_appliance: Appliance) -> None:
    home = httpx.get(running_appliance.portal_url + "/")
    assert home.status_code == 200
    assert "Your lab's notebooks" in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert httpx.get(running_appliance.portal_url + "/healthz").text == "ok"
    status = httpx.get(running_appliance.portal_url + "/api/status").json()
    assert status["ok"] is True
    assert status["database"]["ok"] is True
    assert status["database"]["installed_at"]


def test_on_a_bare_address_status_and_an_admins_home_page_say_members_are_not_isolated(
        appliance: Appliance) -> None:
    appliance.on_bare_address().up()
    members = httpx.get(appliance.portal_url + "/api/status").json()["members"]
    assert members["isolated"] is False and members["note"].startswith("NOT isolated from each other")
    assert "Members are NOT isolated from each other" in " ".join(appliance.cli("status").stdout.split())
    for name, admin in (("boss", True), ("plain", False)):
        browser = Browser(appliance)
        browser.sign_in(name, add_user(appliance, name, *(["--admin"] if admin else [])))
        assert ("Not for a lab yet." in browser.http.get("/").text) is admin  # said to administrators
    Browser.close_all()


def test_portal_errors_have_one_json_shape_and_a_page(running_appliance: Appliance) -> None:
    missing = httpx.get(running_appliance.portal_url + "/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error": "There is no page at /api/nothing-here.", "status": 404}
    page = httpx.get(running_appliance.portal_url + "/nothing-here")
    assert page.status_code == 404
    assert "Page not found" in page.text


def test_proxy_answers_with_no_hub_page(running_appliance: Appliance) -> None:
    response = httpx.get(running_appliance.proxy_url + "/hubs/1/hub/")
    assert response.status_code == 404
    assert "No hub is serving this address" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_proxy_api_requires_the_token(running_appliance: Appliance) -> None:
    response = httpx.get(f"http://127.0.0.1:{running_appliance.api_port}/api/routes",
                         headers={"Authorization": "token wrong"})
    assert response.status_code == 403


@pytest.mark.parametrize("name", ["postgres", "portal", "proxy", "renderer"])
def test_kill_9_heals_and_counts_the_restart(running_appliance: Appliance, name: str) -> None:
    row = write_row(running_appliance)
    before = running_appliance.component(name)
    os.kill(before["pid"], signal.SIGKILL)
    report = running_appliance.wait_healthy(
        timeout=HEAL_TIMEOUT_S,
        restarted=lambda r: next(c for c in r["components"] if c["name"] == name)["restarts"] == before["restarts"] + 1,
    )
    after = next(c for c in report["components"] if c["name"] == name)
    assert after["pid"] != before["pid"]
    assert "killed by SIGKILL" in after["last_error"]
    assert row_exists(running_appliance, row)
    assert httpx.get(running_appliance.portal_url + "/api/status").json()["database"]["ok"] is True


def test_sigterm_stops_everything_and_leaves_no_process(appliance: Appliance) -> None:
    appliance.up()
    pids = [c["pid"] for c in appliance.status()["components"]]
    pids += [p.pid for p in appliance.processes()]  # PostgreSQL's backends, node, uvicorn …
    assert len(pids) > 3
    began = time.monotonic()
    assert appliance.process is not None
    appliance.process.send_signal(signal.SIGTERM)
    assert appliance.process.wait(timeout=25) == 128 + signal.SIGTERM
    assert time.monotonic() - began < 20
    assert appliance.processes() == []
    assert [pid for pid in pids if not gone(pid)] == []
    assert not appliance.home.joinpath("run", "control.sock").exists()
    result = appliance.cli("status")
    assert result.returncode == 3
    assert "not running" in result.stdout


def test_a_second_up_on_the_same_home_refuses(running_appliance: Appliance) -> None:
    result = running_appliance.cli("up", timeout=30)
    assert result.returncode == 1
    assert f"already running on home {running_appliance.home}" in result.stderr
    assert "appliance stop" in result.stderr
    assert running_appliance.status()["exit_code"] == 0


def test_data_survives_up_stop_up_and_migrations_are_a_no_op(appliance: Appliance) -> None:
    appliance.up()
    row = write_row(appliance)
    installed = httpx.get(appliance.portal_url + "/api/status").json()["database"]["installed_at"]
    stopped = appliance.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "appliance stopped" in stopped.stdout
    assert appliance.process is not None and appliance.process.wait(5) == 0
    assert appliance.processes() == []

    appliance.up()
    assert row_exists(appliance, row)
    assert httpx.get(appliance.portal_url + "/api/status").json()["database"]["installed_at"] == installed
    migrate_log = appliance.home.joinpath("logs", "migrate.log").read_text()
    assert migrate_log.count("schema at revision") == 2
    assert migrate_log.rstrip().endswith("(unchanged)")


def test_restart_command_restarts_one_component(running_appliance: Appliance) -> None:
    before = running_appliance.component("portal")
    result = running_appliance.cli("restart", "portal")
    assert result.returncode == 0, result.stderr
    assert "restarted portal; healthy" in result.stdout
    after = running_appliance.component("portal")
    assert after["pid"] != before["pid"]
    assert after["restarts"] == before["restarts"] + 1
    unknown = running_appliance.cli("restart", "nonesuch")
    assert unknown.returncode == 1
    assert "no component named 'nonesuch'" in unknown.stderr


def test_status_table_and_logs(running_appliance: Appliance) -> None:
    table = running_appliance.cli("status")
    assert table.returncode == 0
    assert "COMPONENT" in table.stdout and "All components healthy." in table.stdout
    logs = running_appliance.cli("logs", "portal", "-n", "50")
    assert logs.returncode == 0 and "Application startup complete" in logs.stdout, logs.stdout
    unknown = running_appliance.cli("logs", "nonesuch")
    assert unknown.returncode == 1 and "no log for 'nonesuch'" in unknown.stderr


def test_control_socket_and_secrets_are_private(running_appliance: Appliance) -> None:
    home = running_appliance.home
    assert (home / "run" / "control.sock").stat().st_mode & 0o777 == 0o600
    for secret in (home / "secrets").iterdir():
        assert secret.stat().st_mode & 0o777 == 0o600
    assert (home / "secrets").stat().st_mode & 0o777 == 0o700


def test_up_detach_returns_when_healthy_and_prints_the_urls(appliance: Appliance) -> None:
    result = appliance.cli("up", "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Portal:      {appliance.public_portal_url}/" in result.stdout  # the trial names
    assert f"Hub origin:  {appliance.proxy_url}/" in result.stdout
    assert "Members:     Members are isolated from each other" in result.stdout
    assert "✓ postgres" in result.stdout and "✓ proxy" in result.stdout
    assert appliance.status()["exit_code"] == 0
    pid = int(appliance.home.joinpath("run", "appliance.pid").read_text())
    assert psutil.Process(pid).ppid() != os.getpid()  # really detached from the command that started it
    assert appliance.cli("stop").returncode == 0
    assert appliance.processes() == []
    assert gone(pid)


def test_up_public_listens_on_every_interface(appliance: Appliance) -> None:
    result = appliance.cli("up", "--detach", "--public")
    assert result.returncode == 0, result.stdout + result.stderr
    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert ("0.0.0.0", appliance.portal_port) in listening
    assert ("0.0.0.0", appliance.proxy_port) in listening
    assert ("127.0.0.1", appliance.api_port) in listening  # the proxy's API stays on loopback
    assert ("127.0.0.1", appliance.pg_port) in listening
    stopped = appliance.cli("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_children_do_not_import_from_the_operators_working_directory(appliance: Appliance, tmp_path: Path) -> None:
    """`python -m appliance` in a child must not pick up an `appliance` folder where `up` was typed."""
    decoy = tmp_path / "appliance"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('imported the decoy from the working directory')\n")
    command = Path(sys.executable).parent / "appliance"
    result = subprocess.run([str(command), "up", "--detach"], cwd=tmp_path, env=appliance.env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert appliance.cli("stop").returncode == 0


def test_up_after_a_crashed_supervisor_clears_its_leftovers(appliance: Appliance) -> None:
    appliance.up()
    orphans = appliance.processes()
    assert appliance.process is not None
    appliance.process.kill()  # the supervisor dies without stopping its children
    appliance.process.wait()
    assert any(p.is_running() for p in orphans)  # PostgreSQL and the others are still there
    appliance.up()  # takes the lock, kills the leftovers, starts afresh on the same ports
    assert all(gone(p.pid) for p in orphans)
    assert "left by a previous supervisor" in appliance.home.joinpath("logs", "supervisor.log").read_text()


def test_logs_follow_prints_new_lines(running_appliance: Appliance) -> None:
    command = [sys.executable, "-m", "appliance", "logs", "portal", "-f", "-n", "0"]
    with subprocess.Popen(command, env=running_appliance.env, stdout=subprocess.PIPE) as follower:
        assert follower.stdout is not None
        marker = f"/follow-{uuid.uuid4().hex}".encode()
        deadline = time.monotonic() + 10
        seen = b""
        while marker not in seen and time.monotonic() < deadline:
            httpx.get(running_appliance.portal_url + marker.decode())  # uvicorn logs the request line
            # raw reads of what is there: a non-blocking text stream's read() can fail inside its decoder
            while select.select([follower.stdout], [], [], 0.3)[0]:
                chunk = os.read(follower.stdout.fileno(), 65536)
                seen += chunk
                if not chunk:
                    break
        follower.terminate()
    assert marker in seen
