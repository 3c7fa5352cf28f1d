"""The nodes component's errors, each with the HTTP status the join API answers with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class NodeError(ApplianceError):
    status = 409


class BadJoin(NodeError):
    """A join request that does not describe a machine that can serve hubs."""

    status = 400


class JoinRefused(NodeError):
    """A join token that does not let a machine join: unknown, used, or expired."""

    status = 403


class UnknownNode(NodeError):
    status = 404
