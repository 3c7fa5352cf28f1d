"""The appliance's PostgreSQL: an embedded cluster in the home (cluster.py), or an external server
(postgres.url)."""

from appliance.postgres.cluster import (
    DATABASE,
    SUPERUSER,
    EmbeddedCluster,
    PostgresError,
    client_bin_dir,
    find_bin_dir,
    sqlalchemy_url,
)
from appliance.postgres.external import check_external, connection_refused, database_url, prepare_databases
from appliance.postgres.settings import PostgresSettings

__all__ = ["DATABASE", "SUPERUSER", "EmbeddedCluster", "PostgresError", "PostgresSettings", "check_external",
           "client_bin_dir",
           "connection_refused", "database_url", "find_bin_dir", "prepare_databases", "sqlalchemy_url"]
