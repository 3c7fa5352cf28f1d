"""A member of the lab and their JupyterLab servers on the appliance's hubs: a new account signed in at
the portal, a server started through a hub as a browser would, and all servers found as processes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import psutil

from tests.harness import Appliance
from tests.integration.oauth import Browser, add_user, follow, log_in_through_hub


@dataclass
class Member:
    name: str
    password: str
    portal: Browser  # signed in at the portal

    @classmethod
    def new(cls, appliance: Appliance, name: str) -> Member:
        """A new account, signed in at the portal (Browser.close_all() closes its client)."""
        password = add_user(appliance, name)
        portal = Browser(appliance)
        portal.sign_in(name, password)
        return cls(name, password, portal)

    def hub_id(self) -> str:
        """The hub discovery places the member on (placing them at the first ask)."""
        hub: str = self.portal.http.get("/api/discovery/v1/me").json()["hub"]
        return hub


def start_server(appliance: Appliance, hub_url: str, name: str, password: str, browser: httpx.Client) -> httpx.Response:
    """Sign in through the hub and follow its spawn to the member's JupyterLab."""
    log_in_through_hub(appliance, hub_url, name, password, browser)
    landed = follow(browser, f"{hub_url}/hub/spawn")
    hub_log = appliance.home / "logs" / f"hub-{hub_url.rsplit('/', 1)[-1]}.log"
    assert landed.status_code == 200 and urlsplit(str(landed.url)).path.endswith(f"/user/{name}/lab"), (
        landed.url, landed.text[:2000], hub_log.read_text()[-4000:])
    return landed


def user_servers(name: str) -> list[psutil.Process]:
    """The member's running JupyterLab servers, on any hub."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if ("jupyterhub.singleuser" in " ".join(process.info["cmdline"] or [])
                    and process.environ().get("JUPYTERHUB_USER") == name and process.status() != psutil.STATUS_ZOMBIE):
                found.append(process)
        except psutil.Error:
            continue
    return found


def server_hub(server: psutil.Process) -> str:
    """The hub a user server belongs to, from its service prefix (/hubs/<id>/user/<name>/)."""
    return server.environ()["JUPYTERHUB_SERVICE_PREFIX"].split("/")[2]
