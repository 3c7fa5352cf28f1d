"""The portal: its pages, a member's server through it, and the guards and headers of its origin. The
application wires every component's routes into its app (appliance/application/portal.py)."""

from __future__ import annotations

from appliance.portal.settings import PortalSettings

__all__ = ["PortalSettings"]
