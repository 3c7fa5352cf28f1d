"""A whole appliance (supervisor, portal, hub, member's server) on an external PostgreSQL: TLS verified against
postgres.ca_file, a role without superuser, a hub database its administrator created. Every connection the
appliance opens is TLS; a member's notebook saved through their hub-spawned JupyterLab is there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.harness import Appliance, make_home, reserve_ports, started
from tests.inprocess.conftest import ROLE, SessionCluster
from tests.integration.lab import MemberServer
from tests.integration.oauth import Browser
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
