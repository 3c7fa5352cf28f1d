"""The jupyter_server extension loaded in every member's server (the hub's spawner arguments name it):
the gallery's publish endpoint and the helpers JupyterLab's gallery extension (@appliance/gallery) uses.

``POST /appliance/gallery/publish`` reads the *saved* notebook through the server's contents manager (so
its refusals hold: paths outside the member's files, hidden files) and sends the .ipynb, never HTML, to
the portal's ``/api/gallery/v1/publications`` with the member's storage token."""

from __future__ import annotations

from typing import Any

from appliance.singleuser.handlers import routes


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "appliance.singleuser"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.add_handlers(".*$", routes(serverapp.web_app.settings["base_url"]))


__all__ = ["routes"]
