"""Where hub N lives and how it is known: one place for every name and address derived from its id."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from appliance.config import Config


def hub_ids(config: Config) -> list[str]:
    return [str(number) for number in range(1, config.hubs.count + 1)]


SIGNED_OUT_PATH = "/research/signed-out"  # the portal's page a hub's logout ends on (it signs out of the portal)
TRIAL_DOMAIN = "lab.localhost"  # browsers resolve every *.localhost name to loopback, without DNS
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def trial_names(config: Config) -> bool:
    """Whether the appliance runs on its trial names: no origin or certificate configured and everything
    on loopback.
    The portal is then lab.localhost, the hubs hub.lab.localhost and each member <name>.hub.lab.localhost,
    all on the front proxy's port: distinct hosts of one site, with no DNS and no certificate."""
    return (not config.portal.public_url and not config.hubs.public_url and not config.proxy.tls_cert
            and config.portal.host in LOOPBACK and config.proxy.host in LOOPBACK)


def portal_origin(config: Config) -> str:
    """The portal as browsers reach it, without a trailing slash: the OpenID Connect issuer and the
    base of every link the hubs are given."""
    if config.portal.public_url:
        return config.portal.public_url.rstrip("/")
    if trial_names(config):
        return f"http://{TRIAL_DOMAIN}:{config.proxy.port}"
    host = "127.0.0.1" if config.portal.host in ("0.0.0.0", "") else config.portal.host
    return f"http://{host}:{config.portal.port}"


def hub_origin(config: Config) -> str:
    """The hub origin as browsers reach it, without a trailing slash."""
    if config.hubs.public_url:
        return config.hubs.public_url.rstrip("/")
    if trial_names(config):
        return f"http://hub.{TRIAL_DOMAIN}:{config.proxy.port}"
    portal = urlsplit(portal_origin(config))
    scheme = "https" if config.proxy.tls_cert else portal.scheme
    return f"{scheme}://{portal.hostname}:{config.proxy.port}"


def members_isolated(config: Config) -> bool:
    """Whether every member's server has a host of its own (<name>.<hub host>, JupyterHub's user
    subdomains), so that no member's pages share an origin with another's, a hub or the portal. That
    needs the hubs on a host name (not an IP address) other than the portal's."""
    hub_host = urlsplit(hub_origin(config)).hostname or ""
    return host_routing(config) and not _is_address(hub_host)


DOMAIN_HINT = "install.sh --domain lab.example.org (the README's \"Addresses, and members kept apart\")"


def members_report(config: Config) -> dict[str, object]:
    """Whether members are isolated from each other, said for `appliance status`, the welcome lines, the
    installer and an administrator's home page: {"isolated": bool, "note": str}, the note reading on
    from "Members are "."""
    hub_host = urlsplit(hub_origin(config)).hostname
    if not members_isolated(config):
        return {"isolated": False, "note": (
            "NOT isolated from each other: without host names every member's server shares one "
            "origin, so a page one member serves can act in a colleague's JupyterLab. Give the appliance "
            f"host names: {DOMAIN_HINT}.")}
    note = f"isolated from each other: each member's server has a host of its own (<name>.{hub_host})."
    if trial_names(config):
        note += (" These trial names reach this machine only from a browser running on it; for a lab, give the "
                 f"appliance its own domain: {DOMAIN_HINT}.")
    return {"isolated": True, "note": note}


def certificate_hosts(config: Config) -> list[str]:
    """The host names proxy.tls_cert must cover: the portal's and the hubs' when the proxy serves both,
    and every member's (*.<hub host>) when members have hosts of their own."""
    hub_host = urlsplit(hub_origin(config)).hostname or ""
    hosts = [urlsplit(portal_origin(config)).hostname or "", hub_host] if host_routing(config) else [hub_host]
    hosts += [f"*.{hub_host}"] if members_isolated(config) else []
    return [host for host in hosts if not _is_address(host)]  # an address is the client's to check, not a name


def member_origins(config: Config) -> str | None:
    """The origins of members' own servers as a pattern (``https://*.hub.lab.example.org``), for the portal's
    frame-src; None where members share the hub origin."""
    hub = urlsplit(hub_origin(config))
    return f"{hub.scheme}://*.{hub.netloc}" if members_isolated(config) else None


RENDER_LABEL = "0-render"  # usernames start with a letter, so no member's host can be this one


def render_origin(config: Config) -> str:
    """Where the gallery serves rendered notebooks (untrusted HTML): a host of its own under the members'
    wildcard, on which no cookie is ever set; where members are not isolated, the portal's origin (the
    renders are sandboxed by their Content-Security-Policy either way)."""
    if not members_isolated(config):
        return portal_origin(config)
    hub = urlsplit(hub_origin(config))
    return f"{hub.scheme}://{RENDER_LABEL}.{hub.netloc}"


def render_route(config: Config) -> str | None:
    """The front proxy's route for the render host (to the portal, which serves it), where there is one."""
    return f"/{urlsplit(render_origin(config)).hostname}" if members_isolated(config) else None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def portal_local(config: Config) -> str:
    """The portal as the appliance's own processes reach it: on loopback, in plain HTTP."""
    host = "127.0.0.1" if config.portal.host in ("0.0.0.0", "") else config.portal.host
    return f"http://{host}:{config.portal.port}"


def host_routing(config: Config) -> bool:
    """Whether the portal and the hubs have host names of their own (lab.example.org and
    hub.lab.example.org): the front proxy then serves both origins on its port, routing by host name.
    Otherwise (the two-port default) the portal listens on its own port."""
    return urlsplit(portal_origin(config)).hostname != urlsplit(hub_origin(config)).hostname


def route_host(config: Config) -> str:
    """The host name that starts every hub route in the front proxy under host routing, else ""."""
    if not host_routing(config):
        return ""
    return urlsplit(hub_origin(config)).hostname or ""


def route_prefix(config: Config) -> str:
    """What starts every hub route in the front proxy: "/<hub host>" under host routing, else nothing."""
    host = route_host(config)
    return f"/{host}" if host else ""


def portal_route(config: Config) -> str | None:
    """The front proxy's route for the portal's host name under host routing (the portal adds it)."""
    return f"/{urlsplit(portal_origin(config)).hostname}" if host_routing(config) else None


def base_url(hub_id: str) -> str:
    return f"/hubs/{hub_id}/"


def user_redirect(config: Config, hub_id: str, path: str) -> str:
    """JupyterHub's /hub/user-redirect/<path> on a hub: <path> on the member's own server."""
    return f"{hub_origin(config)}{base_url(hub_id)}hub/user-redirect/{path}"


def hub_routespec(config: Config, hub_id: str) -> str:
    """Hub N's own route when members have hosts of their own: its host and base_url (JupyterHub's
    default, "/", would send every host to one hub)."""
    return f"{urlsplit(hub_origin(config)).hostname}{base_url(hub_id)}"


def api_port(config: Config, hub_id: str) -> int:
    return config.hubs.first_port + int(hub_id) - 1


def hub_component(hub_id: str) -> str:
    """The supervisor's name for hub ``hub_id`` (`appliance status`, `appliance restart hub-1`)."""
    return f"hub-{hub_id}"


def oauth_client_id(hub_id: str) -> str:
    return f"hub-{hub_id}"


def oauth_secret_name(hub_id: str) -> str:
    return f"hub-{hub_id}-oauth-secret"


def oauth_callback(config: Config, hub_id: str) -> str:
    return f"{hub_origin(config)}{base_url(hub_id)}hub/oauth_callback"


def database_name(hub_id: str) -> str:
    return f"hub_{hub_id}"


PORTAL_SERVICE = "portal"  # the hubs' service for the portal's own calls (a member's server: state, stop, progress)
PORTAL_SERVICE_TOKEN_SECRET = "hubs-portal-service-token"  # its API token, the same on every hub


def hub_api_url(config: Config, hub_id: str) -> str:
    """Hub N's REST API as the portal reaches it, on loopback (ending in /)."""
    return f"http://127.0.0.1:{api_port(config, hub_id)}{base_url(hub_id)}hub/api/"
