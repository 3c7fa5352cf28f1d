"""The full render: nbconvert's lab template with every script local (gallery/convert.py)."""

from __future__ import annotations

import re

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from appliance.gallery.assets import manifest
from appliance.gallery.convert import notebook_html


def test_the_page_loads_mathjax_3_from_the_render_hosts_assets_and_nothing_from_elsewhere() -> None:
    notebook = new_notebook(cells=[new_markdown_cell("Euler: $e^{i\\pi} + 1 = 0$"), new_code_cell("1")],
                            metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    page = notebook_html(notebook)
    loaded = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]*)"', page)
    assert loaded == ["/gallery/assets/mathjax/es5/tex-chtml-full.js"]
    assert "fontURL: '/gallery/assets/mathjax/es5/output/chtml/fonts/woff-v2'" in page
    assert "e^{i\\pi} + 1 = 0" in page
    for cdn in ("cdnjs", "unpkg", "jsdelivr", "require.js", "mermaid.esm", "MathJax.Hub"):
        assert cdn not in page


def test_what_the_page_loads_is_what_the_asset_manifest_copies() -> None:
    targets = {asset.target for asset in manifest()[1]}
    assert "mathjax/es5/tex-chtml-full.js" in targets and "mathjax/es5/output/chtml/fonts/woff-v2" in targets


def test_outputs_are_kept_as_published_the_sandbox_not_sanitising_is_what_contains_them() -> None:
    notebook = new_notebook(cells=[new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": "<table><tr><th>a</th></tr></table><script>go()</script>"})])])
    page = notebook_html(notebook)
    assert "<th>a</th>" in page and "<script>go()</script>" in page
