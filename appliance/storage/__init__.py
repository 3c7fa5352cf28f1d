"""Storage: every member's notebooks and files in PostgreSQL, encrypted, with checkpoints.

The settings are imported eagerly (config.py reads them); the rest on first use. The contents
manager that runs inside user servers is ``appliance.storage.routing`` (the member's storage,
``contents_manager``, and the mounted folders).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.storage.settings import StorageSettings

if TYPE_CHECKING:
    from appliance.storage.errors import StorageError as StorageError
    from appliance.storage.service import Storage as Storage
    from appliance.storage.service import storage_tokens as storage_tokens
    from appliance.storage.store import FileStore as FileStore

_EXPORTS = {"FileStore": "store", "Storage": "service", "StorageError": "errors", "storage_tokens": "service"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["StorageSettings", *_EXPORTS]
