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
    return f"{portal.scheme}://{portal.hostname}:{config.proxy.port}"


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
