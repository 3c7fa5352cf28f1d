"""Admin tokens: scoped bearer tokens for scripts calling the admin API (``/api/admin/v1``).

A token is shown once, when it is made, and stored as a SHA-256 digest. It acts for the admin who
made it and only while that account is an enabled admin: removing the admin flag or disabling the
account stops every token it made, with nothing else to revoke. ``read`` tokens may only read (GET);
``write`` tokens may do everything the admin could do in the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, func, select, update

from appliance.identity.accounts import _COLUMNS as ACCOUNT_COLUMNS
from appliance.identity.accounts import Account
from appliance.identity.digests import digest, new_secret
from appliance.identity.errors import IdentityError
from appliance.identity.tables import accounts, admin_tokens

PREFIX = "apat_"  # "appliance admin token": recognisable in a leaked file or a secret scanner's rule
SCOPES = ("read", "write")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
MAX_NAME = 64


@dataclass(frozen=True)
class AdminToken:
    id: int
    name: str
    scope: str
    account: Account
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, method: str) -> bool:
        return self.scope == "write" or method in ("GET", "HEAD")

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {"id": self.id, "name": self.name, "scope": self.scope, "owner": self.account.username,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at)}


_TOKEN_COLUMNS = [admin_tokens.c[name].label(f"token_{name}") for name in (
    "id", "name", "scope", "created_at", "expires_at", "last_used_at", "revoked_at")]


def _token(row: Any) -> AdminToken:
    return AdminToken(id=row.token_id, name=row.token_name, scope=row.token_scope, account=Account.from_row(row),
                      created_at=row.token_created_at, expires_at=row.token_expires_at,
                      last_used_at=row.token_last_used_at, revoked_at=row.token_revoked_at)


def _select() -> Any:
    return (select(*_TOKEN_COLUMNS, *ACCOUNT_COLUMNS)
            .join(accounts, accounts.c.id == admin_tokens.c.account_id))


class AdminTokenTable:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, account: Account, name: str, scope: str, lifetime_days: int = 0) -> tuple[AdminToken, str]:
        """A new token for ``account`` (an enabled admin); returns it and its value (never stored, shown once).
        ``lifetime_days`` 0 means until revoked."""
        name = name.strip()
        if scope not in SCOPES:
            raise IdentityError(f"the scope {scope!r} is not one of {', '.join(SCOPES)}: read may only read "
                                "(GET), write may change things too.")
        if not name or len(name) > MAX_NAME:
            raise IdentityError(f"name the token (1 to {MAX_NAME} characters), e.g. after the script that uses it.")
        if not account.is_admin or account.disabled:
            raise IdentityError(f"{account.username!r} is not an enabled administrator; only they may hold "
                                "admin tokens (appliance users set-admin).")
        if lifetime_days < 0:
            raise IdentityError(f"the lifetime must be 0 (until revoked) or a number of days, not {lifetime_days}.")
        value = PREFIX + new_secret()
        expires = func.now() + timedelta(days=lifetime_days) if lifetime_days else None
        with self.engine.begin() as connection:
            token_id = connection.execute(admin_tokens.insert().values(
                digest=digest(value), account_id=account.id, name=name, scope=scope, expires_at=expires,
            ).returning(admin_tokens.c.id)).scalar_one()
        return self.require(token_id), value

    def require(self, token_id: int) -> AdminToken:
        with self.engine.connect() as connection:
            row = connection.execute(_select().where(admin_tokens.c.id == token_id)).first()
        if row is None:
            raise IdentityError(f"there is no admin token {token_id}; see `appliance users admin-token list`.")
        return _token(row)

    def get(self, value: str | None) -> AdminToken | None:
        """The live token with this value, or None: unknown, revoked, expired, or its owner no longer an
        enabled admin."""
        if not value or not value.startswith(PREFIX) or len(value) > 128:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(_select().where(
                admin_tokens.c.digest == digest(value), admin_tokens.c.revoked_at.is_(None),
                admin_tokens.c.expires_at.is_(None) | (admin_tokens.c.expires_at > func.now()),
                accounts.c.is_admin, ~accounts.c.disabled)).first()
        if row is None:
            return None
        if row.token_last_used_at is None or datetime.now(timezone.utc) - row.token_last_used_at > TOUCH_EVERY:
            with self.engine.begin() as connection:
                connection.execute(update(admin_tokens).where(admin_tokens.c.id == row.token_id)
                                   .values(last_used_at=func.now()))
        return _token(row)

    def list(self, include_revoked: bool = False) -> list[AdminToken]:
        query = _select().order_by(admin_tokens.c.id)
        if not include_revoked:
            query = query.where(admin_tokens.c.revoked_at.is_(None))
        with self.engine.connect() as connection:
            return [_token(row) for row in connection.execute(query)]

    def revoke(self, token_id: int) -> AdminToken:
        with self.engine.begin() as connection:
            found = connection.execute(update(admin_tokens).where(admin_tokens.c.id == token_id)
                                       .values(revoked_at=func.coalesce(admin_tokens.c.revoked_at, func.now()))
                                       .returning(admin_tokens.c.id)).first()
        if found is None:
            raise IdentityError(f"there is no admin token {token_id}; see `appliance users admin-token list`.")
        return self.require(token_id)
