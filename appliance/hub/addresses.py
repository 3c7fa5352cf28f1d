"""Where hub N lives and how it is known: one place for every name and address derived from its id."""

from __future__ import annotations

from urllib.parse import urlsplit

from appliance.config import Config


def hub_ids(config: Config) -> list[str]:
    return [str(number) for number in range(1, config.hubs.count + 1)]


def hub_origin(config: Config) -> str:
    """The hub origin as browsers reach it, without a trailing slash."""
    if config.hubs.public_url:
        return config.hubs.public_url.rstrip("/")
    portal = urlsplit(config.portal.url())
    scheme = "https" if config.proxy.tls_cert else portal.scheme
    return f"{scheme}://{portal.hostname}:{config.proxy.port}"


def portal_local(config: Config) -> str:
    """The portal as the appliance's own processes reach it: on loopback, in plain HTTP."""
    host = "127.0.0.1" if config.portal.host in ("0.0.0.0", "") else config.portal.host
    return f"http://{host}:{config.portal.port}"


def host_routing(config: Config) -> bool:
    """Whether the portal and the hubs have host names of their own (lab.example.org and
    hub.lab.example.org): the front proxy then serves both origins on its port, routing by host name.
    Otherwise (the two-port default) the portal listens on its own port."""
    return urlsplit(config.portal.url()).hostname != urlsplit(hub_origin(config)).hostname


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
    return f"/{urlsplit(config.portal.url()).hostname}" if host_routing(config) else None


def base_url(hub_id: str) -> str:
    return f"/hubs/{hub_id}/"


def api_port(config: Config, hub_id: str) -> int:
    return config.hubs.first_port + int(hub_id) - 1


def oauth_client_id(hub_id: str) -> str:
    return f"hub-{hub_id}"


def oauth_secret_name(hub_id: str) -> str:
    return f"hub-{hub_id}-oauth-secret"


def oauth_callback(config: Config, hub_id: str) -> str:
    return f"{hub_origin(config)}{base_url(hub_id)}hub/oauth_callback"


def database_name(hub_id: str) -> str:
    return f"hub_{hub_id}"
