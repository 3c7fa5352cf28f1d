"""Audit errors, each with the HTTP status the admin API answers with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class AuditError(ApplianceError):
    status = 400


class BadFilter(AuditError):
    """A filter the log cannot apply (a --since it cannot read, a cursor it did not give); the message says
    what it takes."""

    status = 400
