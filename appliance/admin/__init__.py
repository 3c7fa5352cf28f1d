"""The admin console: its guard, the /api/admin/v1 router and OpenAPI document, the console's pages, and People.

Everything is imported on first use, so that commands which never touch the console do not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.admin.guard import Admin as Admin
    from appliance.admin.guard import AdminGuard as AdminGuard
    from appliance.admin.guard import AdminRefused as AdminRefused

_EXPORTS = {"Admin": "guard", "AdminGuard": "guard", "AdminRefused": "guard"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = [*_EXPORTS]
