"""The migrations build exactly the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from appliance.identity.tables import metadata as identity_metadata
from tests.harness import Appliance


def test_identity_migrations_match_the_declared_tables(running_appliance: Appliance) -> None:
    engine = create_engine(running_appliance.database_url())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_schemas": True,
            "include_name": lambda name, kind, parent: kind != "schema" or name == "identity",
        })
        differences = compare_metadata(context, identity_metadata)
    engine.dispose()
    assert differences == []
