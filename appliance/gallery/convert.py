"""A published notebook as one HTML page: nbconvert's lab template, with every script local.

The template (templates/appliance_lab) extends nbconvert's lab template: MathJax 3 is configured and
loaded from the render host's /gallery/assets/ (root-relative, so a stored render does not depend on
the host name it was made under), and require.js, the widgets manager and mermaid, which upstream loads
from CDNs, are left out. Nothing is sanitised: the page is served sandboxed from a host of its own
(gallery/rendered.py), which is what keeps its script away from the portal (NOTES.md, "Untrusted
notebook HTML").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.gallery.assets import ASSETS_PATH

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "appliance_lab"


def notebook_html(notebook: Any) -> str:
    """The full page for ``notebook`` (an nbformat NotebookNode, or its JSON as a dict)."""
    import nbformat
    from nbconvert import HTMLExporter  # imported where used: the portal never loads nbconvert

    exporter = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)])  # type: ignore[no-untyped-call]
    node = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.from_dict(notebook)  # type: ignore[no-untyped-call]
    html, _ = exporter.from_notebook_node(node, resources={"appliance_assets": ASSETS_PATH})
    return str(html)
