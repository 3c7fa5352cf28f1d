"""The admin console: its guard, the /api/admin/v1 router and OpenAPI document, and the console's pages: People,
Hubs, Gallery, Software, System and Audit.

Everything is imported on first use, so that commands which never touch the console do not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.admin.api import AdminAPI as AdminAPI
    from appliance.admin.api import ApiRoute as ApiRoute
    from appliance.admin.api import Param as Param
    from appliance.admin.audit_api import AuditAPI as AuditAPI
    from appliance.admin.audit_pages import AuditPages as AuditPages
    from appliance.admin.errors import AdminError as AdminError
    from appliance.admin.gallery_api import GalleryAPI as GalleryAPI
    from appliance.admin.gallery_pages import GalleryPages as GalleryPages
    from appliance.admin.guard import Admin as Admin
    from appliance.admin.guard import AdminGuard as AdminGuard
    from appliance.admin.guard import AdminRefused as AdminRefused
    from appliance.admin.hubs import HubsConsole as HubsConsole
    from appliance.admin.hubs_api import HubsAPI as HubsAPI
    from appliance.admin.hubs_pages import HubsPages as HubsPages
    from appliance.admin.pages import ConsolePages as ConsolePages
    from appliance.admin.pages import render_admin as render_admin
    from appliance.admin.people import People as People
    from appliance.admin.people_api import PeopleAPI as PeopleAPI
    from appliance.admin.people_pages import PeoplePages as PeoplePages
    from appliance.admin.person import HubServers as HubServers
    from appliance.admin.person import PersonFacts as PersonFacts
    from appliance.admin.person import Publication as Publication
    from appliance.admin.person import Usage as Usage
    from appliance.admin.software import SoftwareConsole as SoftwareConsole
    from appliance.admin.software_api import SoftwareAPI as SoftwareAPI
    from appliance.admin.system import Installation as Installation
    from appliance.admin.system import SystemConsole as SystemConsole

_EXPORTS = {"Admin": "guard", "AdminGuard": "guard", "AdminRefused": "guard", "AdminAPI": "api", "ApiRoute": "api",
            "Param": "api", "AdminError": "errors", "ConsolePages": "pages", "render_admin": "pages",
            "People": "people", "PeopleAPI": "people_api", "PeoplePages": "people_pages", "HubServers": "person",
            "PersonFacts": "person", "Publication": "person", "Usage": "person", "HubsConsole": "hubs",
            "HubsAPI": "hubs_api", "HubsPages": "hubs_pages", "SystemConsole": "system", "Installation": "system",
            "AuditAPI": "audit_api", "AuditPages": "audit_pages", "GalleryAPI": "gallery_api",
            "GalleryPages": "gallery_pages", "SoftwareConsole": "software", "SoftwareAPI": "software_api"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = [*_EXPORTS]
