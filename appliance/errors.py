"""The one error type every component raises for problems a person can fix.

Each boundary converts it exactly once: the CLI into a one-line message (traceback only with
``--debug``), HTTP into the JSON error shape.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Something went wrong that the operator or user can act on.

    ``message`` says what happened and what to do next, ``hint`` adds an optional next step, and
    ``log_message`` carries detail for the operator's log (defaults to ``message``).
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, log_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.log_message = log_message or message

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(ApplianceError):
    """The configuration file, an environment variable or an option has a bad value."""


class NotRunning(ApplianceError):
    """The supervisor of this home is not running (exit code 3 for ``status``)."""

    exit_code = 3


def error_body(message: str, status: int) -> dict[str, object]:
    """The one JSON error shape of the appliance's HTTP APIs (the portal's, and a member's server's gallery
    endpoints, which the lab extension reads alike): what happened and what to do, and the HTTP code."""
    return {"ok": False, "error": message, "status": status}
