"""The appliance on an external PostgreSQL (postgres.url, postgres.ca_file): the whole in-process tier runs on
one (conftest.py); here, what `appliance db upgrade` refuses there and how it says so, and the migration lock
that lets several machines start against one database."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from appliance.db import head_revision, upgrade
from appliance.db.migrate import MIGRATION_LOCK
from appliance.db.pool import libpq_url
from tests.harness import Appliance
from tests.inprocess.conftest import DATABASE_HOST, InProcessPortal, SessionCluster
from tests.tls import make_certificates


@contextlib.contextmanager
def unstarted(cluster: SessionCluster, **env: str) -> Iterator[InProcessPortal]:
    """An appliance's home on a fresh database of ``cluster``, never started: for its commands."""
    handle = InProcessPortal(cluster)
    handle.env.update(env)
    try:
        yield handle
    finally:
        handle.terminate()


def test_the_appliance_reaches_it_over_verified_tls_as_a_role_without_superuser(portal_in_process: Appliance) -> None:
    url = libpq_url(portal_in_process.database_url())
    assert "sslmode=verify-full" in url and "sslrootcert=" in url
    with psycopg.connect(url) as connection:
        assert connection.pgconn.ssl_in_use
        superuser, revision = connection.execute(
            "SELECT rolsuper, (SELECT version_num FROM alembic_version) FROM pg_roles WHERE rolname = current_user"
        ).fetchone() or ()
    assert superuser is False and revision == head_revision()


def test_a_certificate_from_another_ca_is_refused_with_the_fix(postgres_cluster: SessionCluster,
                                                               tmp_path: Path) -> None:
    other_ca = make_certificates(tmp_path, [DATABASE_HOST])[0]
    with unstarted(postgres_cluster) as appliance:
        refused = appliance.cli("db", "upgrade", env={"APPLIANCE_POSTGRES_CA_FILE": str(other_ca)})
    assert refused.returncode != 0
    said = " ".join(refused.stderr.split())
    assert f"sent a certificate that postgres.ca_file ({other_ca}) does not verify: it was signed by another CA" \
        in said, said
    assert "Set postgres.ca_file to the CA certificate that signed the server's certificate" in said
    assert "Traceback" not in refused.stderr


def test_a_certificate_for_another_host_name_is_refused(postgres_cluster: SessionCluster) -> None:
    with unstarted(postgres_cluster) as appliance:
        wrong_name = appliance.env["APPLIANCE_POSTGRES_URL"].replace(DATABASE_HOST, "other.lab.test")
        refused = appliance.cli("db", "upgrade", env={"APPLIANCE_POSTGRES_URL": wrong_name})
    assert refused.returncode != 0
    assert "the PostgreSQL server's certificate is not for other.lab.test" in " ".join(refused.stderr.split())


def test_a_server_over_the_network_needs_a_ca_file_or_a_chosen_sslmode(postgres_cluster: SessionCluster) -> None:
    with unstarted(postgres_cluster) as appliance:
        refused = appliance.cli("db", "upgrade", env={"APPLIANCE_POSTGRES_CA_FILE": ""})
        assert refused.returncode != 0
        said = " ".join(refused.stderr.split())
        assert f"postgres.url reaches {DATABASE_HOST} over the network, and nothing says how to check its " \
               "certificate" in said and "postgres.ca_file" in said
        chosen = appliance.env["APPLIANCE_POSTGRES_URL"] + "&sslmode=require"  # the operator's own choice
        migrated = appliance.cli("db", "upgrade",
                                 env={"APPLIANCE_POSTGRES_CA_FILE": "", "APPLIANCE_POSTGRES_URL": chosen})
        assert migrated.returncode == 0, migrated.stderr


def test_a_role_short_of_rights_is_told_the_sql_that_grants_them(postgres_cluster: SessionCluster) -> None:
    """A database the administrator owns, a role that may only connect, two hubs: every missing right is listed at
    once, as the SQL that grants it; run as said, the upgrade then goes through."""
    role, password = "lab_restricted", "x" + postgres_cluster.role_password
    with postgres_cluster.superuser() as admin, unstarted(postgres_cluster, APPLIANCE_HUBS_COUNT="2") as appliance:
        database = str(make_url(appliance.env["APPLIANCE_POSTGRES_URL"]).database)
        for hub_database in ("hub_1", "hub_2"):  # the session's other appliances may have left them
            admin.execute(f'DROP DATABASE IF EXISTS "{hub_database}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB PASSWORD \'{password}\'')
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO appliance')
        url = make_url(appliance.env["APPLIANCE_POSTGRES_URL"]).set(username=role, password=password)
        appliance.env["APPLIANCE_POSTGRES_URL"] = url.render_as_string(hide_password=False)
        try:
            refused = appliance.cli("db", "upgrade")
            assert refused.returncode != 0
            said = refused.stderr
            grant = f'ALTER DATABASE "{database}" OWNER TO "{role}"'
            creates = 'CREATE DATABASE "hub_1" OWNER "lab_restricted"; CREATE DATABASE "hub_2" OWNER "lab_restricted";'
            assert f"role {role} may not create schemas and tables in database {database}: {grant};" in said, said
            assert "the hubs' database(s) hub_1, hub_2 do not exist, and role lab_restricted cannot create " \
                   f"databases: {creates}" in " ".join(said.split()), said
            with postgres_cluster.superuser() as connection:
                assert connection.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'identity'"
                                          ).fetchone() == (0,)  # nothing migrated
            admin.execute(grant)
            for statement in creates.split(";")[:-1]:
                admin.execute(statement)
            migrated = appliance.cli("db", "upgrade")
            assert migrated.returncode == 0, migrated.stderr
            assert "schema at revision" in migrated.stdout
        finally:
            for hub in ("hub_1", "hub_2"):
                admin.execute(f'DROP DATABASE IF EXISTS "{hub}" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_machines_that_start_at_once_migrate_in_turn(postgres_cluster: SessionCluster) -> None:
    """Two upgrades waiting on the same empty database (two machines starting): one migrates, the other waits
    for it and finds the schema current. Without the lock both would create the same schemas, and one fail."""
    with unstarted(postgres_cluster) as appliance:
        url = appliance.database_url()
        with psycopg.connect(libpq_url(url), autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            waiting = threading.Barrier(3)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                runs = [pool.submit(lambda: (waiting.wait(), upgrade(url))[1]) for _ in range(2)]
                waiting.wait()
                deadline = time.monotonic() + 30
                while holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                     ).fetchone() != (2,):  # both wait on the lock
                    assert not any(run.done() for run in runs), [run.exception() for run in runs if run.done()]
                    assert time.monotonic() < deadline, "the upgrades never waited on the migration lock"
                holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
                results = sorted((run.result(60) for run in runs), key=lambda result: result[0] or "")
    head = head_revision()
    assert results == [(None, head), (head, head)]


@pytest.mark.parametrize(("version", "refused"), [(120022, True), (130000, False), (150010, False)])
def test_a_server_older_than_13_is_refused(version: int, refused: bool) -> None:
    """No PostgreSQL older than 15 is on these machines: the check's rule, on the server's version number."""
    from appliance.postgres.external import version_problem

    problem = version_problem(version)
    assert (problem is not None) is refused
    if problem:
        assert "PostgreSQL 12.22, older than 13, the oldest this appliance runs on: upgrade it." in problem
