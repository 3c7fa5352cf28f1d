"""Where the portal, the hubs and each member live and how they are known: one place for every origin, route
and name derived from the configuration's addresses, and for every name derived from a hub's id."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from appliance.proxy import api_url

SIGNED_OUT_PATH = "/research/signed-out"  # the portal's page a hub's logout ends on (it signs out of the portal)
TRIAL_DOMAIN = "lab.localhost"  # browsers resolve every *.localhost name to loopback, without DNS
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DOMAIN_HINT = "install.sh --domain lab.example.org (the README's \"Addresses, and members kept apart\")"
RENDER_LABEL = "0-render"  # usernames start with a letter, so no member's host can be this one
PORTAL_SERVICE = "portal"  # the hubs' service for the portal's own calls (a member's server: state, stop, progress)
PORTAL_SERVICE_TOKEN_SECRET = "hubs-portal-service-token"  # its API token, the same on every hub


@dataclass(frozen=True)
class Addresses:
    """The knobs every address derives from (portal.*, hubs.*, proxy.*; `Config.addresses` makes one), and
    what derives from them."""

    portal_public_url: str
    portal_host: str
    portal_port: int
    hubs_public_url: str
    hub_count: int
    hubs_first_port: int
    proxy_host: str
    proxy_port: int
    proxy_api_port: int
    proxy_tls: bool
    first_hub: int = 1  # a hub node's: its first hub's id (nodes.first_hub)
    portal_url: str = ""  # a hub node's: the portal as it reaches it (nodes.portal_url)
    node_address: str = ""  # this machine on the private network between the appliance's machines (nodes.address)

    @property
    def hub_ids(self) -> list[str]:
        """The hubs this machine runs."""
        return [str(number) for number in range(self.first_hub, self.first_hub + self.hub_count)]

    @property
    def trial_names(self) -> bool:
        """Whether the appliance runs on its trial names: no origin or certificate configured and everything
        on loopback.
        The portal is then lab.localhost, the hubs hub.lab.localhost and each member <name>.hub.lab.localhost,
        all on the front proxy's port: distinct hosts of one site, with no DNS and no certificate."""
        return (not self.portal_public_url and not self.hubs_public_url and not self.proxy_tls
                and self.portal_host in LOOPBACK and self.proxy_host in LOOPBACK)

    @property
    def portal_origin(self) -> str:
        """The portal as browsers reach it, without a trailing slash: the OpenID Connect issuer and the
        base of every link the hubs are given."""
        if self.portal_public_url:
            return self.portal_public_url.rstrip("/")
        if self.trial_names:
            return f"http://{TRIAL_DOMAIN}:{self.proxy_port}"
        return f"http://{_reachable(self.portal_host)}:{self.portal_port}"

    @property
    def hub_origin(self) -> str:
        """The hub origin as browsers reach it, without a trailing slash."""
        if self.hubs_public_url:
            return self.hubs_public_url.rstrip("/")
        if self.trial_names:
            return f"http://hub.{TRIAL_DOMAIN}:{self.proxy_port}"
        portal = urlsplit(self.portal_origin)
        scheme = "https" if self.proxy_tls else portal.scheme
        return f"{scheme}://{portal.hostname}:{self.proxy_port}"

    @property
    def hub_host(self) -> str:
        return urlsplit(self.hub_origin).hostname or ""

    @property
    def members_isolated(self) -> bool:
        """Whether every member's server has a host of its own (<name>.<hub host>, JupyterHub's user
        subdomains), so that no member's pages share an origin with another's, a hub or the portal. That
        needs the hubs on a host name (not an IP address) other than the portal's."""
        return self.host_routing and not is_address(self.hub_host)

    def members_report(self) -> dict[str, object]:
        """Whether members are isolated from each other, said for `appliance status`, the welcome lines, the
        installer and an administrator's home page: {"isolated": bool, "note": str}, the note reading on
        from "Members are "."""
        if not self.members_isolated:
            return {"isolated": False, "note": (
                "NOT isolated from each other: without host names every member's server shares one "
                "origin, so a page one member serves can act in a colleague's JupyterLab. Give the appliance "
                f"host names: {DOMAIN_HINT}.")}
        note = f"isolated from each other: each member's server has a host of its own (<name>.{self.hub_host})."
        if self.trial_names:
            note += (" These trial names reach this machine only from a browser running on it; for a lab, give the "
                     f"appliance its own domain: {DOMAIN_HINT}.")
        return {"isolated": True, "note": note}

    @property
    def certificate_hosts(self) -> list[str]:
        """The host names proxy.tls_cert must cover: the portal's and the hubs' when the proxy serves both,
        and every member's (*.<hub host>) when members have hosts of their own."""
        hosts = [urlsplit(self.portal_origin).hostname or "", self.hub_host] if self.host_routing else [self.hub_host]
        hosts += [f"*.{self.hub_host}"] if self.members_isolated else []
        return [host for host in hosts if not is_address(host)]  # an address is the client's to check, not a name

    @property
    def member_origins(self) -> str | None:
        """The origins of members' own servers as a pattern (``https://*.hub.lab.example.org``), for the portal's
        frame-src; None where members share the hub origin."""
        hub = urlsplit(self.hub_origin)
        return f"{hub.scheme}://*.{hub.netloc}" if self.members_isolated else None

    @property
    def render_origin(self) -> str:
        """Where the gallery serves rendered notebooks (untrusted HTML): a host of its own under the members'
        wildcard, on which no cookie is ever set; where members are not isolated, the portal's origin (the
        renders are sandboxed by their Content-Security-Policy either way)."""
        if not self.members_isolated:
            return self.portal_origin
        hub = urlsplit(self.hub_origin)
        return f"{hub.scheme}://{RENDER_LABEL}.{hub.netloc}"

    @property
    def render_route(self) -> str | None:
        """The front proxy's route for the render host (to the portal, which serves it), where there is one."""
        return f"/{urlsplit(self.render_origin).hostname}" if self.members_isolated else None

    @property
    def portal_local(self) -> str:
        """The portal as the appliance's own processes reach it: on loopback, in plain HTTP (a hub node's, as it
        reaches the portal's machine)."""
        return self.portal_url.rstrip("/") or f"http://{_reachable(self.portal_host)}:{self.portal_port}"

    @property
    def portal_private_url(self) -> str:
        """The portal on the lab's private network, as hub nodes and members' servers (Slurm jobs included, on other
        machines) reach it: at the portal machine's private address (nodes.address), the one a hub node joined,
        else as the appliance's own processes reach it."""
        if self.node_address and not self.portal_url:
            return f"http://{_host(self.node_address)}:{self.portal_port}"
        return self.portal_local

    @property
    def hub_ip(self) -> str:
        """Where this machine's hubs listen for their own API: loopback, or on a machine the portal reaches over
        the private network, there."""
        return self.node_address or "127.0.0.1"

    @property
    def host_routing(self) -> bool:
        """Whether the portal and the hubs have host names of their own (lab.example.org and
        hub.lab.example.org): the front proxy then serves both origins on its port, routing by host name.
        Otherwise (the two-port default) the portal listens on its own port."""
        return urlsplit(self.portal_origin).hostname != self.hub_host

    @property
    def route_host(self) -> str:
        """The host name that starts every hub route in the front proxy under host routing, else ""."""
        return self.hub_host if self.host_routing else ""

    @property
    def route_prefix(self) -> str:
        """What starts every hub route in the front proxy: "/<hub host>" under host routing, else nothing."""
        return f"/{self.route_host}" if self.route_host else ""

    @property
    def portal_route(self) -> str | None:
        """The front proxy's route for the portal's host name under host routing (the portal adds it)."""
        return f"/{urlsplit(self.portal_origin).hostname}" if self.host_routing else None

    @property
    def proxy_api(self) -> str:
        """The front proxy's REST API (configurable-http-proxy's), on loopback."""
        return api_url(self.proxy_api_port)

    def user_redirect(self, hub_id: str, path: str) -> str:
        """JupyterHub's /hub/user-redirect/<path> on a hub: <path> on the member's own server."""
        return f"{self.hub_origin}{base_url(hub_id)}hub/user-redirect/{path}"

    def hub_routespec(self, hub_id: str) -> str:
        """Hub N's own route when members have hosts of their own: its host and base_url (JupyterHub's
        default, "/", would send every host to one hub)."""
        return f"{self.hub_host}{base_url(hub_id)}"

    def api_port(self, hub_id: str) -> int:
        return self.hubs_first_port + int(hub_id) - self.first_hub

    def oauth_callback(self, hub_id: str) -> str:
        return f"{self.hub_origin}{base_url(hub_id)}hub/oauth_callback"

    def hub_api_url(self, hub_id: str) -> str:
        """This machine's hub N's REST API as the portal reaches it (ending in /)."""
        return hub_api_url(self.hub_ip, self.api_port(hub_id), hub_id)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _reachable(host: str) -> str:
    """``host`` as a client on this machine reaches it: the wildcard address is reached on loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hub_api_url(host: str, port: int, hub_id: str) -> str:
    return f"http://{_host(host)}:{port}{base_url(hub_id)}hub/api/"


def base_url(hub_id: str) -> str:
    return f"/hubs/{hub_id}/"


def hub_component(hub_id: str) -> str:
    """The supervisor's name for hub ``hub_id`` (`appliance status`, `appliance restart hub-1`)."""
    return f"hub-{hub_id}"


def oauth_client_id(hub_id: str) -> str:
    return f"hub-{hub_id}"


def oauth_secret_name(hub_id: str) -> str:
    return f"hub-{hub_id}-oauth-secret"


def discovery_credential_name(hub_id: str) -> str:
    """A hub node's secret: its hub's credential with discovery (the portal's machine derives them from its key)."""
    return f"hub-{hub_id}-discovery-credential"


def database_name(hub_id: str) -> str:
    return f"hub_{hub_id}"
