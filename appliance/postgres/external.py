"""An external PostgreSQL (postgres.url): how the appliance connects to it, TLS with ``verify-full`` when
postgres.ca_file names the CA, and what `appliance db upgrade` checks there before it migrates. Each refusal
names the fix, in SQL where a database administrator has to act: the appliance's role needs no superuser.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from appliance.db.pool import libpq_url
from appliance.errors import ConfigError
from appliance.home import Home
from appliance.postgres.cluster import EmbeddedCluster, PostgresError, sqlalchemy_url
from appliance.postgres.settings import PostgresSettings

# pg_trgm (the gallery's search) is a trusted extension from PostgreSQL 13 on: the database's owner creates it
# without superuser
OLDEST_SERVER = 13
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
CONNECT_TIMEOUT_S = 10
CA_HINT = "Set postgres.ca_file to the CA certificate that signed the server's certificate (its administrator has it)."


def database_url(home: Home, settings: PostgresSettings) -> str:
    """The SQLAlchemy URL of the appliance database: the external one, or the embedded cluster's."""
    return external_url(settings) if settings.url else EmbeddedCluster(home, settings).url()


def prepare_databases(home: Home, settings: PostgresSettings, hub_databases: list[str]) -> list[str]:
    """Check an external server (check_external), then create whichever databases are missing: the appliance's
    (the embedded cluster's; an external one is given) and the hubs'. Returns the names created."""
    from appliance.db import ensure_database

    url = database_url(home, settings)
    if settings.url:
        check_external(url, hub_databases)
    target = make_url(url)
    appliance_database = str(target.database)  # the server's other databases may be closed to the role
    created = [] if settings.url or not ensure_database(url) else [appliance_database]
    for name in hub_databases:
        if ensure_database(target.set(database=name).render_as_string(hide_password=False), appliance_database):
            created.append(name)
    return created


def external_url(settings: PostgresSettings) -> str:
    """postgres.url as SQLAlchemy takes it, with postgres.ca_file's TLS settings in its query. A server reached
    over the network must say how its certificate is checked: a URL without sslmode and without a CA file
    would let anyone between the machines read every notebook (libpq's default, ``prefer``, verifies nothing)."""
    url = make_url(sqlalchemy_url(settings.url))
    query = dict(url.query)
    if settings.ca_file:
        chosen = query.get("sslmode", "verify-full")
        if chosen != "verify-full":
            raise ConfigError(f"postgres.ca_file is set, but postgres.url asks for sslmode={chosen}.",
                              hint="Drop sslmode from the URL (the CA file makes it verify-full), or empty "
                                   "postgres.ca_file.")
        ca_file = Path(settings.ca_file)
        if not ca_file.is_file():
            raise ConfigError(f"postgres.ca_file = {settings.ca_file} is not a file.",
                              hint="Name the PEM file of the CA that signed the server's certificate.")
        query.update(sslmode="verify-full", sslrootcert=str(ca_file.absolute()))
    elif "sslmode" not in query and not _on_this_machine(url):
        raise ConfigError(
            f"postgres.url reaches {url.host} over the network, and nothing says how to check its certificate.",
            hint=f"{CA_HINT} The connection is then TLS with sslmode=verify-full. Or add ?sslmode=… to the URL "
                 "to choose otherwise.")
    return url.set(query=query).render_as_string(hide_password=False)


def _on_this_machine(url: URL) -> bool:
    host = url.host or str(url.query.get("host", ""))
    return not host or host.startswith("/") or host in LOOPBACK_HOSTS


def check_external(database_url: str, hub_databases: list[str]) -> None:
    """Refuse, before any migration, what would fail later on the external server: an unverifiable or unreachable
    server, one older than OLDEST_SERVER, a role that cannot create the appliance's schemas and tables, the
    gallery's extension missing, or a hub database that is missing when the role cannot create it (every problem
    at once)."""
    with _connect(database_url) as connection:
        problems = [p for p in [version_problem(connection.info.server_version)] if p]
        role, may_create_databases, has_trigram = connection.execute(
            "SELECT current_user, (SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user), "
            "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm')").fetchone() or ()
        if not has_trigram:
            problems.append("the server lacks the pg_trgm extension (the gallery's search): install PostgreSQL's "
                            "contrib package on it (postgresql-contrib).")
        existing = {str(name) for name, in connection.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (hub_databases,))}
        problems += _creation_problem(connection, role)
    missing = [name for name in hub_databases if name not in existing]
    if missing and not may_create_databases:
        creates = " ".join(f'CREATE DATABASE "{name}" OWNER "{role}";' for name in missing)
        problems.append(f"the hubs' database(s) {', '.join(missing)} do not exist, and role {role} cannot create "
                        f"databases: {creates} (or ALTER ROLE \"{role}\" CREATEDB).")
    for name in sorted(existing):
        with _connect(make_url(database_url).set(database=name).render_as_string(hide_password=False)) as database:
            problems += _creation_problem(database, role)
    if problems:
        raise PostgresError("the external PostgreSQL (postgres.url) cannot hold the appliance yet:\n  - "
                            + "\n  - ".join(problems))


def _creation_problem(database: psycopg.Connection[tuple[object, ...]], role: object) -> list[str]:
    """What keeps ``role`` from creating the appliance's schemas, and the tables PostgreSQL 15 keeps to public's
    owner (alembic's, JupyterHub's), in the database ``database`` is connected to."""
    name, may_create = database.execute(
        "SELECT current_database(), has_database_privilege(current_database(), 'CREATE') "
        "AND has_schema_privilege('public', 'CREATE')").fetchone() or (None, False)
    return [] if may_create else [f"role {role} may not create schemas and tables in database {name}: "
                                  f'ALTER DATABASE "{name}" OWNER TO "{role}";']


def version_problem(server_version: int) -> str | None:
    """What is wrong with a server of ``server_version`` (libpq's number, 150010 for 15.10), if anything."""
    major = server_version // 10000
    if major >= OLDEST_SERVER:
        return None
    return (f"the server runs PostgreSQL {major}.{server_version % 10000}, older than {OLDEST_SERVER}, the oldest "
            "this appliance runs on: upgrade it.")


def _connect(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as error:
        raise connection_refused(database_url, error) from None


def connection_refused(database_url: str, error: Exception) -> PostgresError:
    """The reason ``error`` gives for not connecting to ``database_url``, as the operator can act on it."""
    said = " ".join(str(error).split())
    url = make_url(database_url)
    where = f"{url.host or url.query.get('host', 'its socket')}:{url.port or 5432}"
    if "certificate verify failed" in said:
        return PostgresError(f"the PostgreSQL server at {where} sent a certificate that postgres.ca_file "
                             f"({url.query.get('sslrootcert')}) does not verify: it was signed by another CA.",
                             hint=CA_HINT, log_message=said)
    if "does not match host name" in said:
        return PostgresError(f"the PostgreSQL server's certificate is not for {url.host}, the host name in "
                             f"postgres.url ({said}).",
                             hint="Use the host name its certificate names in postgres.url.", log_message=said)
    if "does not support SSL" in said:
        return PostgresError(f"the PostgreSQL server at {where} does not offer TLS, which postgres.ca_file asks for.",
                             hint="Turn on ssl in the server's postgresql.conf, or empty postgres.ca_file if the "
                                  "network between the machines is trusted.", log_message=said)
    if "password authentication failed" in said or "no password supplied" in said:
        return PostgresError(f"the PostgreSQL server at {where} refused the login of role {url.username}.",
                             hint="Check the user and password in postgres.url.", log_message=said)
    return PostgresError(f"cannot connect to the PostgreSQL server at {where}: {said}",
                         hint="Check postgres.url, and that the server accepts connections from this machine "
                              "(its pg_hba.conf).", log_message=said)
