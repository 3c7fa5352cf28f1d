"""Identity errors: each message is safe to show to the person who caused it."""

from __future__ import annotations

from appliance.errors import ApplianceError


class IdentityError(ApplianceError):
    """A problem with an account, a session or a sign-in."""


class InvalidUsername(IdentityError):
    pass


class AccountExists(IdentityError):
    pass


class AccountNotFound(IdentityError):
    pass


class WeakPassword(IdentityError):
    pass


class SignInRefused(IdentityError):
    """Wrong credentials, a disabled account or a lock-out; ``retry_after_s`` is set for lock-outs."""

    def __init__(self, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SignInBusy(SignInRefused):
    """Every password-checking slot is taken: the portal answers 503 with ``retry_after_s``."""


class ClientNotFound(IdentityError):
    pass


class InvalidClient(IdentityError):
    pass
