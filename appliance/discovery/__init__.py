"""Discovery: the hub registry, heartbeats, which hub serves which member, and fencing.

The settings are imported eagerly (config.py reads them); the rest on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.discovery.settings import DiscoverySettings

if TYPE_CHECKING:
    from appliance.discovery.api import DiscoveryAPI as DiscoveryAPI
    from appliance.discovery.errors import DiscoveryError as DiscoveryError
    from appliance.discovery.registry import Hub as Hub
    from appliance.discovery.registry import HubRegistry as HubRegistry
    from appliance.discovery.registry import Placement as Placement
    from appliance.discovery.samples import History as History
    from appliance.discovery.samples import HubSamples as HubSamples
    from appliance.discovery.service import Discovery as Discovery
    from appliance.discovery.service import hub_credentials as hub_credentials

_EXPORTS = {"Discovery": "service", "DiscoveryAPI": "api", "DiscoveryError": "errors", "Hub": "registry",
            "HubRegistry": "registry", "Placement": "registry", "hub_credentials": "service", "History": "samples",
            "HubSamples": "samples"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["DiscoverySettings", *_EXPORTS]
