"""[identity]: accounts, sessions, sign-in throttling and the OAuth2/OIDC provider."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob


@dataclass(frozen=True)
class IdentitySettings:
    """[identity] Sign-in, sessions and the OAuth2/OpenID Connect provider the hubs log in through."""

    session_lifetime_s: int = knob(
        1_209_600,
        "Seconds a portal session lasts after sign-in (14 days). Signing out, disabling the account or "
        "changing its password ends it sooner.",
    )
    login_max_failures_per_account: int = knob(
        5,
        "Failed sign-ins for one account name within login_failure_window_s after which that name is "
        "locked out for login_lockout_s. Unknown names are counted the same way.",
    )
    login_max_failures_per_address: int = knob(
        20, "Failed sign-ins from one client address within login_failure_window_s before it is locked out."
    )
    login_failure_window_s: int = knob(900, "Seconds over which failed sign-ins are counted.")
    login_lockout_s: int = knob(
        900, "Seconds a locked-out account name or address must wait after its last failure."
    )
    max_concurrent_password_checks: int = knob(
        2,
        "Passwords checked at once (sign-in, password change). Each check holds 19 MiB for about 0.03 s "
        "(argon2id), so this bounds the portal's memory under a flood of sign-ins: more at once are "
        "answered 503 with Retry-After, saying the portal is busy. Raise it on a machine with cores and "
        "memory to spare. Applies when the portal restarts.",
    )
    min_password_length: int = knob(10, "Shortest password accepted when a password is set or changed.")
    access_token_lifetime_s: int = knob(
        3600, "Seconds an OAuth access token is valid. At most 3600 (one hour)."
    )
    refresh_token_lifetime_s: int = knob(
        2_592_000, "Seconds an OAuth refresh token is valid (30 days). Each use replaces it with a new one."
    )
    code_lifetime_s: int = knob(
        120, "Seconds an OAuth authorization code can be exchanged. At most 300 (five minutes)."
    )

    def __post_init__(self) -> None:
        if not 60 <= self.access_token_lifetime_s <= 3600:
            raise ConfigError(f"identity.access_token_lifetime_s = {self.access_token_lifetime_s}: "
                              "must be between 60 and 3600 seconds.")
        if not 10 <= self.code_lifetime_s <= 300:
            raise ConfigError(f"identity.code_lifetime_s = {self.code_lifetime_s}: "
                              "must be between 10 and 300 seconds.")
        if self.max_concurrent_password_checks < 1:
            raise ConfigError(f"identity.max_concurrent_password_checks = {self.max_concurrent_password_checks}: "
                              "must be at least 1.")
        if self.min_password_length < 8:
            raise ConfigError(f"identity.min_password_length = {self.min_password_length}: must be at least 8.")
