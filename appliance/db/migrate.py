"""Bring the database schema to the newest revision; a no-op when it is already there."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from appliance.db.engine import make_engine

log = logging.getLogger("appliance.db")


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "appliance.db:migrations")
    return config


def head_revision() -> str:
    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


def current_revision(url: str) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_database(url: str) -> bool:
    """Create the URL's database if it is missing (embedded cluster). Returns True if created."""
    target = make_url(url)
    maintenance = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
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
    """Migrate to head. Returns (revision before, revision after)."""
    before = current_revision(url)
    head = head_revision()
    if before == head:
        log.info("database schema is up to date (revision %s); nothing to migrate", head)
        return before, head
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    log.info("database schema migrated from %s to %s", before or "empty", head)
    return before, head
