"""`appliance backup` and `appliance restore` between two real appliances: a member's account and
notebook come back on a fresh install, encrypted with the restored keys; every refusal says what to do."""

from __future__ import annotations

import json
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Appliance, make_home, reserve_ports
from tests.integration.oauth import Browser, add_user
from tests.integration.storage_client import StorageCaller, mint


@pytest.fixture
def fresh() -> Iterator[Appliance]:
    """A second appliance, installed and started once (its own cluster, password and keys), then stopped."""
    handle = Appliance(make_home(), reserve_ports(4))
    try:
        handle.up()
        assert handle.cli("stop").returncode == 0
        assert handle.process is not None
        handle.process.wait(30)
        yield handle
    finally:
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)


def test_a_backup_restored_on_a_fresh_install_brings_back_accounts_and_notebooks(
        running_appliance: Appliance, fresh: Appliance, tmp_path: Path) -> None:
    password = add_user(running_appliance, "grace")
    notebook = {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "marker-7f3a"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    member = StorageCaller(running_appliance, mint(running_appliance, "grace"))
    assert member.write("kept.ipynb", json.dumps(notebook).encode()).status_code == 200
    file = tmp_path / "lab.backup"

    made = running_appliance.cli("backup", str(file))
    assert made.returncode == 0, made.stderr
    assert "[1/1] database appliance" in made.stdout
    assert stat.S_IMODE(file.stat().st_mode) == 0o600  # it holds the storage's master key
    with tarfile.open(file) as archive:
        assert json.loads(archive.extractfile("manifest.json").read())["databases"] == ["appliance"]  # type: ignore[union-attr]

    restored = fresh.cli("restore", str(file))
    assert restored.returncode == 0, restored.stderr
    assert "database appliance: restored" in restored.stdout and "appliance up" in restored.stdout
    fresh.up()
    assert Browser(fresh).sign_in("grace", password).status_code == 303  # the account, with its password
    back = StorageCaller(fresh, mint(fresh, "grace")).read("kept.ipynb")
    assert back.status_code == 200 and b"marker-7f3a" in back.content  # decrypted with the restored keys


def test_refusals_say_what_to_do(running_appliance: Appliance, fresh: Appliance, tmp_path: Path) -> None:
    file = tmp_path / "lab.backup"
    assert running_appliance.cli("backup", str(file)).returncode == 0
    again = running_appliance.cli("backup", str(file))
    assert again.returncode != 0 and "never overwrites" in again.stderr
    while_running = running_appliance.cli("restore", str(file))
    assert while_running.returncode != 0 and "Stop it first" in while_running.stderr
    stopped = fresh.cli("backup", str(tmp_path / "other.backup"))
    assert stopped.returncode != 0 and "not running" in stopped.stderr
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"not a tar file at all")
    secrets_before = {path.name: path.read_bytes() for path in (fresh.home / "secrets").iterdir()}
    unreadable = fresh.cli("restore", str(garbage))
    assert unreadable.returncode != 0 and "not a backup" in unreadable.stderr
    assert {path.name: path.read_bytes() for path in (fresh.home / "secrets").iterdir()} == secrets_before
