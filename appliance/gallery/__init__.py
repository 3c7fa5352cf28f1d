"""The gallery: members publish notebooks, the lab finds, previews, discusses and clones them.

The settings are imported eagerly (config.py reads them); the rest on first use.
"""

from __future__ import annotations

from appliance.gallery.settings import GallerySettings

__all__ = ["GallerySettings"]
