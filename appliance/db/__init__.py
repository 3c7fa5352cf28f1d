"""The database: engines and schema migrations (Alembic) for every component's schema.

Imported on first use, as the components' packages are: a process that wants only the connection pool or a
libpq URL (the renderer, a hub's heartbeats) does not pay for Alembic at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.db.engine import make_engine as make_engine
    from appliance.db.installation import installed_at as installed_at
    from appliance.db.installation import record_installation as record_installation
    from appliance.db.like import contains_pattern as contains_pattern
    from appliance.db.migrate import Migration as Migration
    from appliance.db.migrate import current_revision as current_revision
    from appliance.db.migrate import ensure_database as ensure_database
    from appliance.db.migrate import head_revision as head_revision
    from appliance.db.migrate import pending_migrations as pending_migrations
    from appliance.db.migrate import upgrade as upgrade

_EXPORTS = {"make_engine": "engine", "installed_at": "installation", "record_installation": "installation",
            "contains_pattern": "like", "current_revision": "migrate", "ensure_database": "migrate",
            "head_revision": "migrate", "upgrade": "migrate", "pending_migrations": "migrate", "Migration": "migrate"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = list(_EXPORTS)
