"""A lab's own domain for tests: the portal on lab.test and the hubs on hub.lab.test, both served over HTTPS
by the front proxy on one loopback port (as `install.sh --domain` sets up on 443), with a throwaway
certificate authority's certificate."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.harness import Appliance, make_home, reserve_ports
from tests.tls import loopback_client, make_certificates

PORTAL_HOST, HUB_HOST = "lab.test", "hub.lab.test"


class Domain:
    def __init__(self, appliance: Appliance, ca_file: Path):
        self.appliance, self.ca_file = appliance, ca_file
        self.portal = f"https://{PORTAL_HOST}:{appliance.proxy_port}"
        self.hubs = f"https://{HUB_HOST}:{appliance.proxy_port}"
        self.set_cookies: list[str] = []  # every Set-Cookie any client of this module received

    def member_host(self, name: str) -> str:
        """The origin of a member's own server."""
        return f"https://{name}.{HUB_HOST}:{self.appliance.proxy_port}"

    def client(self) -> httpx.Client:
        def keep_cookies(response: httpx.Response) -> None:
            self.set_cookies += [f"{response.url.host}{response.url.path}: {value}"
                                 for value in response.headers.get_list("set-cookie")]

        return loopback_client(self.ca_file, timeout=30, event_hooks={"response": [keep_cookies]})


def on_domain() -> Iterator[Domain]:
    """An appliance with one hub on lab.test and hub.lab.test, up until the generator is closed."""
    certificates = Path(tempfile.mkdtemp(prefix="appliance-tls-"))
    ca_file, cert_file, key_file = make_certificates(certificates, [PORTAL_HOST, HUB_HOST, f"*.{HUB_HOST}"])
    appliance = Appliance(make_home(started_once=True), reserve_ports(4)).with_hubs(1)
    port = appliance.proxy_port
    appliance.env.update(APPLIANCE_PORTAL_PUBLIC_URL=f"https://{PORTAL_HOST}:{port}",
                         APPLIANCE_HUBS_PUBLIC_URL=f"https://{HUB_HOST}:{port}",
                         APPLIANCE_PROXY_TLS_CERT=str(cert_file), APPLIANCE_PROXY_TLS_KEY=str(key_file))
    try:
        appliance.up()
        domain = Domain(appliance, ca_file)
        appliance.public_portal_url, appliance.proxy_url = domain.portal, domain.hubs  # where browsers go
        yield domain
    finally:
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)
        shutil.rmtree(certificates, ignore_errors=True)
