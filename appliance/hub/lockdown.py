"""What a hub leaves to the portal: people, tokens and the hub itself.

The portal is the only place that manages people, so on a hub:

- A member, administrator or not, holds ``MEMBER_SCOPES`` only: their own user model, their own server
  (start, stop, open) and its activity. JupyterHub's default "user" role (``self``) would also let
  them mint API tokens (the token page) and share their server with colleagues behind the portal's back.
- Nobody is a hub admin. JupyterHub refuses to redefine the "admin" role's scopes (RoleValueError), so
  the role keeps no users (pinned at every start, which also clears an earlier version's admins) and the
  authenticator marks nobody admin. A portal administrator is a member like any other on a hub: their
  browser holds nothing a colleague's page could turn into ``admin:users`` or ``access:servers``. The
  portal's admin console reaches the hubs with each hub's own service token, not with an admin's browser.
- Hence the hub's API answers 403 to creating or deleting users (``admin:users``, ``delete:users``),
  to shutting the hub down (``shutdown``) and to minting tokens (``tokens``); the admin and token pages,
  which JupyterHub would still render, answer 404 with a link to the portal (``PortalOwnedPage``, served
  ahead of JupyterHub's own handlers).

The portal also starts members' servers (its Research page, which shows the start's progress), so a hub
starts none by itself: ``/hub/user-redirect/...`` goes straight to the member's server, or to the hub's
page for a stopped one (``user_redirect_without_spawning``), instead of through ``/hub/spawn``; that page
is templates/not_running.html, which sends the member to the Research page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.escape import xhtml_escape
from tornado.httputil import HTTPServerRequest, url_concat

MEMBER_SCOPES = ["read:users!user", "users:activity!user", "servers!user", "access:servers!user"]
ROLES: list[dict[str, Any]] = [
    {"name": "user", "description": "A member: their own server, nothing else (the portal manages people)",
     "scopes": MEMBER_SCOPES},
    {"name": "admin", "users": []},  # its scopes cannot change: it keeps nobody
]
PORTAL_OWNED_PAGES = ["/admin", "/token"]  # under the hub prefix


def user_redirect_without_spawning(path: str, request: HTTPServerRequest, user: Any, base_url: str) -> str:
    """JupyterHub's ``user_redirect_hook``: /hub/user-redirect/<path> to <path> on the member's server when
    it runs, else to the hub's page for that address (starting or not running). JupyterHub's own way goes
    through /hub/spawn, which starts it. The hub's page, not the server's own address: with members'
    origins, a stopped server's host has no route and would meet the proxy's 404. A path that climbs out
    (``..``) is refused: a link a colleague sends must not lead the member's browser elsewhere on the hub."""
    if ".." in path.split("/"):
        raise web.HTTPError(400, "That address climbs out of your server (..); open your files from JupyterLab.")
    if user.spawner.ready:
        url = url_path_join(user.url, path)
    else:
        url = url_path_join(base_url, "hub/user", user.escaped_name, path)
    return url_concat(url, parse_qsl(request.query)) if request.query else url


class PortalOwnedPage(BaseHandler):  # type: ignore[misc]
    """A JupyterHub page the portal replaces: 404, saying where people and tokens are managed."""

    def initialize(self, portal_url: str) -> None:
        self.portal_url = portal_url

    def _gone(self) -> None:
        error = web.HTTPError(404, "People, servers and access are managed in the lab's portal, not here.")
        error.jupyterhub_html_message = (  # type: ignore[attr-defined] # JupyterHub's error page shows it as is
            "People, servers and access are managed in the lab's portal, not here: "
            f'<a href="{xhtml_escape(self.portal_url)}">open the portal</a>.')
        raise error

    async def get(self) -> None:
        self._gone()

    async def post(self) -> None:
        self._gone()
