"""The hubs: the JupyterHub subclass every hub process runs, its configuration and its spawner.

The settings are imported eagerly (config.py reads them); the hub itself only in hub processes.
"""

from __future__ import annotations

from appliance.hub.settings import HubSettings

__all__ = ["HubSettings"]
