"""The gallery: members publish notebooks, the lab finds, previews, discusses and clones them.

The settings are imported eagerly (config.py reads them); the rest on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.gallery.settings import GallerySettings

if TYPE_CHECKING:
    from appliance.gallery.errors import GalleryError as GalleryError
    from appliance.gallery.metrics import render_queue_metrics as render_queue_metrics
    from appliance.gallery.moderation import STATES as STATES
    from appliance.gallery.moderation import Listing as Listing
    from appliance.gallery.moderation import Moderation as Moderation
    from appliance.gallery.moderation import PublicationSummary as PublicationSummary
    from appliance.gallery.moderation import Report as Report
    from appliance.gallery.pages import GalleryPages as GalleryPages
    from appliance.gallery.rendered import RENDER_LINK_SECRET as RENDER_LINK_SECRET
    from appliance.gallery.rendered import RenderHost as RenderHost
    from appliance.gallery.rendered import make_rendered as make_rendered
    from appliance.gallery.renderer import renderer_heartbeat as renderer_heartbeat
    from appliance.gallery.service import Gallery as Gallery
    from appliance.gallery.tables import REPORT_REASONS as REPORT_REASONS
    from appliance.gallery.visibility import ANONYMOUS as ANONYMOUS
    from appliance.gallery.visibility import Access as Access
    from appliance.gallery.visibility import Audience as Audience
    from appliance.gallery.visibility import Viewer as Viewer

_EXPORTS = {"Gallery": "service", "GalleryError": "errors", "GalleryPages": "pages", "ANONYMOUS": "visibility",
            "Access": "visibility", "Audience": "visibility", "Viewer": "visibility",
            "RENDER_LINK_SECRET": "rendered", "RenderHost": "rendered", "make_rendered": "rendered",
            "renderer_heartbeat": "renderer", "STATES": "moderation", "Listing": "moderation",
            "Moderation": "moderation", "PublicationSummary": "moderation", "Report": "moderation",
            "REPORT_REASONS": "tables", "render_queue_metrics": "metrics"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["GallerySettings", *_EXPORTS]
