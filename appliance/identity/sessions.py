"""Server-side sessions: a row per session, the cookie holds only a random id.

The cookie is HttpOnly and SameSite=Lax; under https it is also Secure and carries the ``__Host-``
prefix, so no other host (a hub's user server included) can set or widen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, func, select, update

from appliance.identity.accounts import _COLUMNS as ACCOUNT_COLUMNS
from appliance.identity.accounts import Account
from appliance.identity.digests import digest, new_secret
from appliance.identity.tables import accounts, sessions

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session


def cookie_name(secure: bool) -> str:
    return "__Host-appliance_session" if secure else "appliance_session"


@dataclass(frozen=True)
class Session:
    digest: bytes
    account: Account
    created_at: datetime
    expires_at: datetime


class SessionTable:
    def __init__(self, engine: Engine, lifetime_s: int):
        self.engine = engine
        self.lifetime = timedelta(seconds=lifetime_s)

    def create(self, account_id: int, address: str, user_agent: str) -> str:
        """Start a session; returns the value for the cookie (never stored)."""
        value = new_secret()
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.expires_at <= func.now()))  # housekeeping
            connection.execute(sessions.insert().values(
                id_digest=digest(value), account_id=account_id, expires_at=func.now() + self.lifetime,
                address=address[:64], user_agent=user_agent[:256],
            ))
        return value

    def get(self, value: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired or account disabled)."""
        if not value or len(value) > 128:
            return None
        key = digest(value)
        # a read outside a transaction: no BEGIN and ROLLBACK round trips on every signed-in request
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.execute(
                select(sessions.c.created_at, sessions.c.expires_at, sessions.c.last_seen_at, *ACCOUNT_COLUMNS)
                .join(accounts, accounts.c.id == sessions.c.account_id)
                .where(sessions.c.id_digest == key, sessions.c.expires_at > func.now(), ~accounts.c.disabled)
            ).first()
        if row is None:
            return None
        if datetime.now(timezone.utc) - row.last_seen_at > TOUCH_EVERY:
            with self.engine.begin() as connection:
                connection.execute(update(sessions).where(sessions.c.id_digest == key).values(last_seen_at=func.now()))
        return Session(digest=key, account=Account.from_row(row), created_at=row.created_at,
                       expires_at=row.expires_at)

    def revoke(self, value: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.id_digest == digest(value)))

