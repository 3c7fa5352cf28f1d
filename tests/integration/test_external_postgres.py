"""A whole appliance (supervisor, portal, hub, member's server) on an external PostgreSQL: TLS verified against
postgres.ca_file, a role without superuser, a hub database its administrator created. Every connection the
appliance opens is TLS; a member's notebook saved through their hub-spawned JupyterLab is there."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.harness import Appliance, make_home, reserve_ports, started
from tests.inprocess.conftest import ROLE, SessionCluster
from tests.integration.lab import MemberServer
from tests.integration.oauth import Browser, add_user
from tests.integration.storage_client import StorageCaller, mint
from tests.tls import make_certificates

NOTEBOOK = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}


@pytest.fixture(scope="module")
def external() -> Iterator[SessionCluster]:
    cluster = SessionCluster()
    try:
        with cluster.superuser() as admin:  # no CREATEDB for the role: the administrator made the hub's database
            admin.execute(f'CREATE DATABASE "hub_1" OWNER "{ROLE}"')
        yield cluster
    finally:
        cluster.stop()


def test_the_appliance_runs_on_an_external_server_over_verified_tls(external: SessionCluster) -> None:
    handle = Appliance(make_home(), reserve_ports(4)).with_hubs(1)
    handle.env.update(external.new_database())
    try:
        with started(handle):
            components = [component["name"] for component in handle.status()["components"]]
            assert "postgres" not in components and "hub-1" in components
            assert not (handle.home / "postgres").exists()
            server = MemberServer(handle, "extpg")
            server.put("on-tls.ipynb", NOTEBOOK)
            server.browser.close()
            with external.superuser() as admin:
                connections = admin.execute(
                    "SELECT activity.datname, ssl.ssl FROM pg_stat_activity activity JOIN pg_stat_ssl ssl USING (pid) "
                    "WHERE activity.usename = %s", (ROLE,)).fetchall()
            database = str(make_url(handle.env["APPLIANCE_POSTGRES_URL"]).database)
            assert {name for name, _ in connections} >= {database, "hub_1"}  # the portal's and the hub's
            assert all(tls for _, tls in connections), connections
            with external.superuser(database) as admin:
                assert admin.execute("SELECT path FROM storage.files WHERE path = 'on-tls.ipynb'").fetchall() == [
                    ("on-tls.ipynb",)]
            shown = handle.cli("config", "show").stdout
            assert 'url = "********"  # env APPLIANCE_POSTGRES_URL' in shown
            assert external.role_password not in shown
    finally:
        Browser.close_all()
        shutil.rmtree(handle.home.parent, ignore_errors=True)


def test_up_with_a_certificate_from_another_ca_starts_nothing_and_says_why(external: SessionCluster,
                                                                          tmp_path: Path) -> None:
    handle = Appliance(make_home(), reserve_ports(4))
    handle.env.update(external.new_database(), APPLIANCE_POSTGRES_CA_FILE=str(make_certificates(tmp_path, ["x"])[0]))
    try:
        refused = handle.cli("up", timeout=120)
        assert refused.returncode != 0
        said = " ".join(refused.stderr.split())
        assert "database migrations failed to start" in said, said
        assert "does not verify: it was signed by another CA" in said
        assert handle.processes() == []
    finally:
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)


def test_a_lab_moves_onto_the_external_server_by_backup_and_restore(running_appliance: Appliance,
                                                                   external: SessionCluster, tmp_path: Path) -> None:
    """A backup of the embedded cluster restores into the external server's database, whatever it is called; a
    backup made there restores over it in place, as the role that owns it (no superuser, no CREATEDB)."""
    password = add_user(running_appliance, "moving")
    notebook = json.dumps({"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "marker-5e1d"}],
                           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    assert StorageCaller(running_appliance, mint(running_appliance, "moving")).write("kept.ipynb", notebook
                                                                                     ).status_code == 200
    embedded_backup, external_backup = tmp_path / "embedded.backup", tmp_path / "external.backup"
    assert running_appliance.cli("backup", str(embedded_backup)).returncode == 0

    handle = Appliance(make_home(), reserve_ports(4))
    handle.env.update(external.new_database())
    database = str(make_url(handle.env["APPLIANCE_POSTGRES_URL"]).database)
    try:
        restored = handle.cli("restore", str(embedded_backup))
        assert restored.returncode == 0, restored.stderr
        assert f"database appliance into {database}: restored" in restored.stdout
        handle.up()
        assert Browser(handle).sign_in("moving", password).status_code == 303
        member = StorageCaller(handle, mint(handle, "moving"))
        assert b"marker-5e1d" in member.read("kept.ipynb").content

        made = handle.cli("backup", str(external_backup))
        assert made.returncode == 0, made.stderr
        with tarfile.open(external_backup) as archive:
            manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest["databases"] == [database] and manifest["appliance_database"] == database
        assert member.write("after-the-backup.ipynb", notebook).status_code == 200
        assert handle.cli("stop").returncode == 0
        assert handle.process is not None
        handle.process.wait(30)

        again = handle.cli("restore", str(external_backup))
        assert again.returncode == 0, again.stderr
        assert external.role_password not in again.stdout + again.stderr
        handle.up()
        member = StorageCaller(handle, mint(handle, "moving"))
        assert b"marker-5e1d" in member.read("kept.ipynb").content
        assert member.read("after-the-backup.ipynb").status_code == 404  # the database is the backup's again
    finally:
        Browser.close_all()
        handle.terminate()
        shutil.rmtree(handle.home.parent, ignore_errors=True)
