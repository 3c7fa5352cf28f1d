"""The database: engines and schema migrations (Alembic) for every component's schema."""

from appliance.db.engine import make_engine
from appliance.db.installation import installed_at, record_installation
from appliance.db.like import contains_pattern
from appliance.db.migrate import current_revision, ensure_database, head_revision, upgrade

__all__ = [
    "contains_pattern",
    "current_revision",
    "ensure_database",
    "head_revision",
    "installed_at",
    "make_engine",
    "record_installation",
    "upgrade",
]
