"""Templates, static assets and the proxy's error pages (installed as ``appliance.webui``)."""

from importlib.resources import files
from pathlib import Path

ROOT = Path(str(files(__name__)))
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
PROXY_ERROR_PAGES = ROOT / "proxy-errors"
GALLERY_ASSETS = ROOT / "gallery-assets"  # what rendered notebooks load (render-assets.json; the build, not git)
RENDER_ASSETS_MANIFEST = ROOT / "render-assets.json"
LABEXTENSIONS = ROOT / "labextensions"  # JupyterLab extensions built from webui/labextension (the build, not git)
