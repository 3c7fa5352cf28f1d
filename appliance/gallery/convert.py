"""A published notebook as one HTML page: nbconvert's lab template, with every script local.

The template (templates/appliance_lab) extends nbconvert's lab template: MathJax 3 is configured and
loaded from the render host's /gallery/assets/ (root-relative, so a stored render does not depend on
the host name it was made under), and require.js, the widgets manager and mermaid, which upstream loads
from CDNs, are left out. Nothing is sanitised: the page is served sandboxed from a host of its own
(gallery/rendered.py), which is what keeps its script away from the portal (NOTES.md, "Untrusted
notebook HTML").
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from appliance.gallery.assets import ASSETS_PATH

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "appliance_lab"


def notebook_html(notebook: Any) -> str:
    """The full page for ``notebook`` (an nbformat NotebookNode, or its JSON as a dict)."""
    import nbformat

    node = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.from_dict(notebook)  # type: ignore[no-untyped-call]
    html, _ = exporter().from_notebook_node(node, resources={"appliance_assets": ASSETS_PATH})
    return str(html)


@functools.cache
def exporter() -> Any:
    """The exporter with its templates compiled (half a second and more): made once per process, and by
    the renderer's fork server before it forks a render (renderjob.warm_up)."""
    from nbconvert import HTMLExporter  # imported where used: the portal never loads nbconvert

    made = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)])  # type: ignore[no-untyped-call]
    made.template  # noqa: B018 - compiles the template now
    return made
