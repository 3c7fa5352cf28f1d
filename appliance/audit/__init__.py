"""The audit log: every admin action and security event, with who, what, when and from where.

Every component records through one function, ``Audit.record`` (handed to it as a ``Record``), with an
``Actor``: ``record(Actor(username, address), "sign-in.failed", target=name, detail={...})``.
The settings are imported eagerly (config.py reads them); the rest on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.audit.settings import AuditSettings

if TYPE_CHECKING:
    from appliance.audit.errors import AuditError as AuditError
    from appliance.audit.events import ACTIONS as ACTIONS
    from appliance.audit.events import SYSTEM as SYSTEM
    from appliance.audit.events import Actor as Actor
    from appliance.audit.events import Event as Event
    from appliance.audit.events import cli_actor as cli_actor
    from appliance.audit.events import client_address as client_address
    from appliance.audit.filters import Filters as Filters
    from appliance.audit.filters import parse_filters as parse_filters
    from appliance.audit.flood import FloodGate as FloodGate
    from appliance.audit.recorder import Record as Record
    from appliance.audit.recorder import no_record as no_record
    from appliance.audit.service import Audit as Audit

_EXPORTS = {"Audit": "service", "AuditError": "errors", "ACTIONS": "events", "SYSTEM": "events", "Actor": "events",
            "Event": "events", "cli_actor": "events", "client_address": "events", "Filters": "filters",
            "FloodGate": "flood",
            "parse_filters": "filters", "Record": "recorder", "no_record": "recorder"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["AuditSettings", *_EXPORTS]
