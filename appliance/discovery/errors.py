"""Discovery errors, each with the HTTP status the discovery API answers with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class DiscoveryError(ApplianceError):
    status = 409


class BadRequest(DiscoveryError):
    status = 400


class UnknownHub(DiscoveryError):
    """No such hub, or a credential that is not that hub's."""

    status = 401


class NoSuchHub(DiscoveryError):
    status = 404


class NotRegistered(DiscoveryError):
    """A heartbeat from an epoch that is over (the hub restarted, or was declared dead)."""

    status = 410


class NoHub(DiscoveryError):
    """No hub can take a member right now."""

    status = 503


class Unavailable(DiscoveryError):
    status = 503
