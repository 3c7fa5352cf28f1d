"""The portal: the ASGI app on the portal origin that mounts every component's routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.portal.settings import PortalSettings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from appliance.config import Config


def make_app(config: Config) -> Starlette:
    # Imported on use: the app pulls in Starlette and SQLAlchemy, which the CLI does not need.
    from appliance.portal.app import make_app as make_portal_app

    return make_portal_app(config)


__all__ = ["PortalSettings", "make_app"]
