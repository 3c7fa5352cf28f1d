"""Hub nodes: more machines running hubs for one portal. The portal's machine keeps the directory of nodes and
hands out single-use join tokens; a node joins with one and runs its proxy and hubs only.

The settings are imported eagerly (config.py reads them); the rest on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.nodes.settings import HUBS_PER_NODE, NodesSettings

if TYPE_CHECKING:
    from appliance.nodes.api import JoinAPI as JoinAPI
    from appliance.nodes.api import JoinRequest as JoinRequest
    from appliance.nodes.directory import Node as Node
    from appliance.nodes.directory import NodeDirectory as NodeDirectory
    from appliance.nodes.errors import BadJoin as BadJoin
    from appliance.nodes.errors import JoinRefused as JoinRefused
    from appliance.nodes.errors import NodeError as NodeError

_EXPORTS = {"Node": "directory", "NodeDirectory": "directory", "JoinAPI": "api", "JoinRequest": "api",
            "BadJoin": "errors", "JoinRefused": "errors", "NodeError": "errors"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["HUBS_PER_NODE", "NodesSettings", *_EXPORTS]
