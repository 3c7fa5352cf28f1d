"""The core.installation row: when this database was set up, and by which version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text


def record_installation(engine: Engine, version: str) -> None:
    """Insert the row on first run; later runs leave it as it is."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO core.installation (id, installed_version) VALUES (1, :version) "
                 "ON CONFLICT (id) DO NOTHING"),
            {"version": version},
        )


def installed_at(engine: Engine) -> datetime | None:
    with engine.connect() as connection:
        value = connection.execute(text("SELECT installed_at FROM core.installation WHERE id = 1")).scalar()
    return value if isinstance(value, datetime) else None
