"""The portal: the ASGI app on the portal origin that mounts every component's routes."""

from appliance.portal.app import make_app
from appliance.portal.settings import PortalSettings

__all__ = ["PortalSettings", "make_app"]
