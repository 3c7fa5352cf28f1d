"""[postgres]: the database's knobs."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.knobs import knob


@dataclass(frozen=True)
class PostgresSettings:
    """[postgres] The database: an embedded cluster in the home, or an external server."""

    url: str = knob(
        "",
        "URL of an external PostgreSQL database (postgresql://user:password@host:5432/dbname). Empty "
        "runs an embedded cluster in $APPLIANCE_HOME/postgres. Applies at the next `appliance up`.",
        secret=True,
    )
    ca_file: str = knob(
        "",
        "CA certificate (PEM) that signed the external server's certificate. With it every connection to "
        "postgres.url is TLS with sslmode=verify-full: the server must prove the host name in the URL. "
        "Needed for a server reached over the network, unless the URL chooses an sslmode itself.",
    )
    port: int = knob(8003, "Loopback TCP port of the embedded cluster (it also listens on a Unix socket).")
    bin_dir: str = knob(
        "",
        "Directory holding initdb and postgres. Empty looks in pg_config's bindir, then the newest "
        "/usr/lib/postgresql/<version>/bin, then PATH.",
    )
    system_user: str = knob(
        "postgres",
        "System user that owns and runs the embedded cluster when appliance runs as root.",
    )
