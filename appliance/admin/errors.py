"""Admin console errors: each says what went wrong and what to do, and carries the HTTP status to answer with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class AdminError(ApplianceError):
    """A request the console refuses: ``status`` 400 unless said (404 no such thing, 409 a conflict)."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
