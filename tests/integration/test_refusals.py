"""Clear refusals: each names the cause and the fix, and starts nothing."""

from __future__ import annotations

import os
import pwd
import socket
import tempfile
import time

import pytest

from tests.harness import Appliance


@pytest.fixture
def appliance(new_appliance: Appliance) -> Appliance:
    """An empty home: a refused first start must leave it as it was (no cluster initialised)."""
    return new_appliance


def test_port_in_use_names_the_port_and_its_holder(appliance: Appliance) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", appliance.portal_port))
        holder.listen()
        result = appliance.cli("up", timeout=60)
    assert result.returncode == 1
    assert f"port {appliance.portal_port} (the portal) is already in use by pid {os.getpid()}" in result.stderr
    assert "portal.port" in result.stderr
    assert appliance.processes() == []  # PostgreSQL was not left running
    assert not (appliance.home / "postgres" / "data").exists()  # nor initialised


def test_missing_postgres_binaries_name_the_package(appliance: Appliance) -> None:
    empty = tempfile.mkdtemp()
    result = appliance.cli("up", env={"APPLIANCE_POSTGRES_BIN_DIR": empty})
    assert result.returncode == 1
    assert f"postgres.bin_dir = {empty} holds no initdb and postgres" in result.stderr
    assert "apt-get install postgresql" in result.stderr
    os.rmdir(empty)


@pytest.mark.skipif(os.geteuid() != 0, reason="requires root to give the home to another user")
def test_home_owned_by_another_user_is_refused(appliance: Appliance) -> None:
    appliance.home.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(appliance.home, nobody.pw_uid, nobody.pw_gid)
    result = appliance.cli("up")
    assert result.returncode == 1
    assert f"home {appliance.home} is owned by nobody (uid {nobody.pw_uid})" in result.stderr
    assert "APPLIANCE_HOME" in result.stderr
    assert list(appliance.home.iterdir()) == []  # nothing was created in it


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[portal]\nport = \n", "is not valid TOML: Invalid value (at line 2, column 8)"),
        ("[portal]\nhost = \"0.0.0.0\"\nport = \"8000\"\n",
         "line 3: portal.port = '8000' is not an integer; expected e.g. port = 8000"),
        ("[portal]\nprot = 8000\n", "line 2: unknown key portal.prot; [portal] takes host, port"),
        ("\n[portl]\nport = 8000\n", "line 2: unknown section [portl]"),
    ],
)
def test_malformed_config_file_names_file_line_and_expectation(appliance: Appliance, content: str,
                                                              expected: str) -> None:
    appliance.home.mkdir()
    config = appliance.home / "appliance.toml"
    config.write_text(content)
    result = appliance.cli("up")
    assert result.returncode == 1
    assert f"config file {config}" in result.stderr
    assert expected in result.stderr
    assert appliance.processes() == []


def test_bad_environment_value_is_refused(appliance: Appliance) -> None:
    result = appliance.cli("up", env={"APPLIANCE_PORTAL_PORT": "eighty"})
    assert result.returncode == 1
    assert "environment variable APPLIANCE_PORTAL_PORT='eighty' is not an integer" in result.stderr


def test_commands_say_when_the_database_is_not_running(appliance: Appliance) -> None:
    for command in (("users", "list"), ("hubs", "list"), ("gallery", "list"), ("audit",)):
        began = time.monotonic()
        result = appliance.cli(*command)
        took_s = time.monotonic() - began
        assert result.returncode == 1, command
        assert "cannot reach the appliance's database" in result.stderr and "appliance up" in result.stderr, command
        assert "error connecting" not in result.stderr, command  # no connection pool retrying it, aloud
        assert took_s < 5, (command, took_s)  # at once, not after a pool's timeout (10 s)


def test_status_when_not_running_exits_3(appliance: Appliance) -> None:
    result = appliance.cli("status")
    assert result.returncode == 3
    assert f"appliance is not running (home {appliance.home})" in result.stdout
    assert appliance.cli("status", "--json").stdout.strip() == '{"running": false, "components": []}'
    stop = appliance.cli("stop")
    assert stop.returncode == 3 and "not running" in stop.stderr
