"""The appliance's PostgreSQL: an embedded cluster in the home (cluster.py), or an external server
(postgres.url)."""

from appliance.postgres.cluster import (
    DATABASE,
    SUPERUSER,
    EmbeddedCluster,
    PostgresError,
    database_url,
    find_bin_dir,
    sqlalchemy_url,
)
from appliance.postgres.settings import PostgresSettings

__all__ = ["DATABASE", "SUPERUSER", "EmbeddedCluster", "PostgresError", "PostgresSettings", "database_url",
           "find_bin_dir", "sqlalchemy_url"]
