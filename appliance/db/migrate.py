"""Bring the database schema to the newest revision; a no-op when it is already there."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from appliance.db.engine import make_engine

log = logging.getLogger("appliance.db")
# pg_advisory_lock's key for migrations: every machine that shares the database (a portal, hub nodes, two
# `appliance db upgrade` started at once) migrates in turn, and the later ones find the schema current
MIGRATION_LOCK = 0x6170706C  # "appl"


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "appliance.db:migrations")
    return config


def head_revision() -> str:
    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


@dataclass(frozen=True)
class Migration:
    revision: str
    description: str  # the first line of its docstring
    backwards_compatible: bool  # the previous release runs on the schema after it


def pending_migrations(current: str | None) -> list[Migration]:
    """The migrations from revision ``current`` (None: an empty database) to head, in the order they run."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    found = [Migration(script.revision, (script.doc or "").strip().splitlines()[0] if script.doc else "",
                       bool(getattr(script.module, "backwards_compatible", False)))
             for script in scripts.iterate_revisions("head", current or "base")]
    return list(reversed(found))


def current_revision(url: str) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_database(url: str, maintenance_database: str = "postgres") -> bool:
    """Create the URL's database if it is missing, connected to ``maintenance_database`` of the same server
    meanwhile. Returns True if created."""
    target = make_url(url)
    maintenance = create_engine(target.set(database=maintenance_database), isolation_level="AUTOCOMMIT",
                                poolclass=NullPool)
    try:
        with maintenance.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if exists:
                return False
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
            return True
    finally:
        maintenance.dispose()


def upgrade(url: str) -> tuple[str | None, str]:
    """Migrate to head, holding the migration lock. Returns (revision before, revision after)."""
    head = head_revision()
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                before = MigrationContext.configure(connection).get_current_revision()
                if before != head:
                    config = _alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                connection.commit()
            finally:
                connection.rollback()  # what a failed migration left (nothing after the commit)
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    finally:
        engine.dispose()
    if before == head:
        log.info("database schema is up to date (revision %s); nothing to migrate", head)
    else:
        log.info("database schema migrated from %s to %s", before or "empty", head)
    return before, head
