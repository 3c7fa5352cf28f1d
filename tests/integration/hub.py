"""A real JupyterHub with GenericOAuthenticator, logging in through the appliance's portal and
reached through the appliance's own proxy (started by the tests; the hubs issue makes this real)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from appliance.config import load_config
from tests.harness import Appliance, reserve_ports, stop_process
from tests.integration.oauth import register_client

HUB_CONFIG = """
c = get_config()  # noqa
c.JupyterHub.base_url = "/hubs/{name}/"
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{workdir}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.pid_file = "{workdir}/hub.pid"
c.JupyterHub.redirect_to_server = False
c.JupyterHub.proxy_class = "appliance.hub.app.SharedProxy"  # the appliance's proxy, by host name on its trial names
c.SharedProxy.route_host = "{route_host}"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = "{client_id}"
c.GenericOAuthenticator.client_secret = "{client_secret}"
c.GenericOAuthenticator.oauth_callback_url = "{callback}"
c.GenericOAuthenticator.authorize_url = "{portal_public}/oauth/authorize"
c.GenericOAuthenticator.token_url = "{portal}/oauth/token"
c.GenericOAuthenticator.userdata_url = "{portal}/oauth/userinfo"
c.GenericOAuthenticator.scope = ["openid", "profile", "email", "groups"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.claim_groups_key = "groups"
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.allow_all = True


def admin_from_claim(authenticator, handler, authentication):
    authentication["admin"] = bool(authentication["auth_state"]["oauth_user"].get("admin"))
    return authentication


c.Authenticator.post_auth_hook = admin_from_claim
c.JupyterHub.services = [{{"name": "tester", "api_token": "{api_token}"}}]
c.JupyterHub.load_roles = [{{"name": "tester", "scopes": ["admin:users", "admin:groups"], "services": ["tester"]}}]
"""


class Hub:
    def __init__(self, appliance: Appliance, workdir: Path, name: str = "test"):
        self.appliance = appliance
        self.workdir = workdir
        self.name = name
        self.url = f"{appliance.proxy_url}/hubs/{name}"
        self.api_token = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        callback = f"{self.url}/hub/oauth_callback"
        client = register_client(self.appliance, f"hub-{self.name}", callback, "--first-party", "--name", "Hub")
        (self.workdir / "jupyterhub_config.py").write_text(textwrap.dedent(HUB_CONFIG).format(
            name=self.name, proxy_port=self.appliance.proxy_port, hub_port=reserve_ports(1)[0],
            workdir=self.workdir, api_port=self.appliance.api_port,
            proxy_token=(self.appliance.home / "secrets" / "proxy-token").read_text().strip(),
            client_id=client.client_id, client_secret=client.secret, callback=callback,
            portal=self.appliance.portal_url, portal_public=self.appliance.public_portal_url,
            api_token=self.api_token, route_host=load_config(environ=self.appliance.env).addresses.route_host,
        ))
        log = open(self.workdir / "hub.log", "ab")  # noqa: SIM115 - lives as long as the hub
        self.process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "jupyterhub"), "-f",
                                         "jupyterhub_config.py"], cwd=self.workdir, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jupyterhub exited:\n{(self.workdir / 'hub.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"jupyterhub not reachable through the proxy within {timeout} s")

    def user(self, name: str) -> httpx.Response:
        return httpx.get(f"{self.url}/hub/api/users/{name}", headers={"Authorization": f"token {self.api_token}"})

    def stop(self) -> None:
        stop_process(self.process)
