"""The migrations build exactly the tables the code declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from appliance.audit.tables import metadata as audit_metadata
from appliance.discovery.tables import metadata as discovery_metadata
from appliance.doctor.tables import metadata as doctor_metadata
from appliance.gallery.tables import metadata as gallery_metadata
from appliance.identity.tables import metadata as identity_metadata
from appliance.nodes.tables import metadata as nodes_metadata
from appliance.storage.tables import metadata as storage_metadata
from tests.harness import Appliance


@pytest.mark.parametrize(("schema", "metadata"), [("identity", identity_metadata), ("storage", storage_metadata),
                                                  ("discovery", discovery_metadata), ("gallery", gallery_metadata),
                                                  ("audit", audit_metadata), ("nodes", nodes_metadata),
                                                  ("doctor", doctor_metadata)])
def test_migrations_match_the_declared_tables(portal_in_process: Appliance, schema: str, metadata: MetaData) -> None:
    engine = create_engine(portal_in_process.database_url())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_schemas": True,
            "include_name": lambda name, kind, parent: kind != "schema" or name == schema,
        })
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
