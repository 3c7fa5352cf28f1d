"""Sign-in throttling: failures counted per account name and per client address, with lock-out."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, func, select

from appliance.identity.errors import SignInRefused
from appliance.identity.settings import IdentitySettings
from appliance.identity.tables import login_failures


def _wait_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{seconds} seconds" if seconds < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginThrottle:
    def __init__(self, engine: Engine, settings: IdentitySettings):
        self.engine = engine
        self.settings = settings

    def check(self, account_key: str, address: str) -> None:
        """Raise SignInRefused, saying when to retry, if the name or the address is locked out."""
        for key, limit, what in (
            (f"account:{account_key}", self.settings.login_max_failures_per_account, "this account"),
            (f"address:{address}", self.settings.login_max_failures_per_address, "your address"),
        ):
            wait = self._lockout_left(key, limit)
            if wait > 0:
                raise SignInRefused(f"Too many failed sign-ins for {what}. Try again in {_wait_words(wait)}.",
                                    retry_after_s=wait)

    def record_failure(self, account_key: str, address: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(login_failures.insert(), [{"key": f"account:{account_key}"},
                                                         {"key": f"address:{address}"}])
            horizon = max(self.settings.login_failure_window_s, self.settings.login_lockout_s)
            connection.execute(login_failures.delete().where(
                login_failures.c.failed_at < func.now() - timedelta(seconds=horizon)))

    def clear(self, account_key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(login_failures.delete().where(login_failures.c.key == f"account:{account_key}"))

    def _lockout_left(self, key: str, limit: int) -> int:
        window = timedelta(seconds=self.settings.login_failure_window_s)
        with self.engine.connect() as connection:
            count, last = connection.execute(
                select(func.count(), func.max(login_failures.c.failed_at))
                .where(login_failures.c.key == key, login_failures.c.failed_at > func.now() - window)
            ).one()
        if count < limit or last is None:
            return 0
        until: datetime = last + timedelta(seconds=self.settings.login_lockout_s)
        return max(0, math.ceil((until - datetime.now(timezone.utc)).total_seconds()))
