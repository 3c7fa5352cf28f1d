"""Accounts: who may sign in, with which password, groups and admin flag."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from appliance.identity import passwords
from appliance.identity.access import end_access
from appliance.identity.errors import AccountExists, AccountNotFound, IdentityError, InvalidUsername, WeakPassword
from appliance.identity.tables import accounts

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
USERNAME_RULE = "1 to 32 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter"
GROUP_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def normalize_username(raw: str) -> str:
    """Case-fold a username as typed (NFKC, so look-alike full-width letters fold too) and check it."""
    name = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not USERNAME_PATTERN.match(name):
        raise InvalidUsername(f"{raw!r} is not a valid username: {USERNAME_RULE}.")
    return name


def check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    checked = []
    for group in groups:
        if not GROUP_PATTERN.match(group):
            raise IdentityError(f"{group!r} is not a valid group name: up to 64 letters, digits, '.', '_' and '-'.")
        checked.append(group)
    return tuple(sorted(set(checked)))


@dataclass(frozen=True)
class Account:
    id: int
    subject: str
    username: str
    display_name: str
    email: str
    groups: tuple[str, ...]
    is_admin: bool
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(id=row.id, subject=str(row.subject), username=row.username, display_name=row.display_name,
                   email=row.email, groups=tuple(row.groups), is_admin=row.is_admin, disabled=row.disabled,
                   created_at=row.created_at, last_login_at=row.last_login_at)

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "name": self.display_name, "email": self.email,
                "groups": list(self.groups), "admin": self.is_admin, "disabled": self.disabled,
                "created_at": self.created_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


_COLUMNS = [accounts.c[name] for name in ("id", "subject", "username", "display_name", "email", "groups", "is_admin",
                                          "disabled", "created_at", "last_login_at")]


class AccountTable:
    def __init__(self, engine: Engine, min_password_length: int = 10):
        self.engine = engine
        self.min_password_length = min_password_length

    def create(self, username: str, password: str | None, *, display_name: str = "", email: str = "",
               groups: Iterable[str] = (), is_admin: bool = False) -> Account:
        name = normalize_username(username)
        values: dict[str, Any] = {"username": name, "display_name": display_name.strip(), "email": email.strip(),
                                  "groups": list(check_groups(groups)), "is_admin": is_admin}
        if password is not None:
            values["password_hash"] = passwords.hash_password(self.check_strength(password))
        try:
            with self.engine.begin() as connection:
                row = connection.execute(accounts.insert().values(**values).returning(*_COLUMNS)).one()
        except IntegrityError:
            raise AccountExists(f"an account named {name!r} already exists.") from None
        return Account.from_row(row)

    def get(self, username: str) -> Account | None:
        try:
            name = normalize_username(username)
        except InvalidUsername:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS).where(accounts.c.username == name)).first()
        return Account.from_row(row) if row else None

    def by_id(self, account_id: int) -> Account | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS).where(accounts.c.id == account_id)).first()
        return Account.from_row(row) if row else None

    def require(self, username: str) -> Account:
        account = self.get(username)
        if account is None:
            raise AccountNotFound(f"there is no account named {username!r}; see `appliance users list`.")
        return account

    def list(self) -> list[Account]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(*_COLUMNS).order_by(accounts.c.username)).all()
        return [Account.from_row(row) for row in rows]

    def count_admins(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(accounts).where(accounts.c.is_admin, ~accounts.c.disabled)
            ).scalar_one())

    def check_password(self, username: str, password: str) -> Account | None:
        """The account if ``password`` is right (disabled or not), else None. Same cost either way."""
        try:
            name = normalize_username(username)
        except InvalidUsername:
            name = ""
        with self.engine.connect() as connection:
            row = connection.execute(select(*_COLUMNS, accounts.c.password_hash)
                                     .where(accounts.c.username == name)).first()
        stored = row.password_hash if row else None
        if not passwords.verify_password(stored, password) or row is None:
            return None
        if passwords.needs_rehash(stored):  # type: ignore[arg-type]
            self._store_hash(row.id, passwords.hash_password(password))
        return Account.from_row(row)

    def check_strength(self, password: str) -> str:
        if len(password) < self.min_password_length:
            raise WeakPassword(f"the password must have at least {self.min_password_length} characters.")
        return password

    def set_password(self, username: str, password: str, *, keep_session: bytes | None = None) -> Account:
        """Change the password, end every other session of the account and revoke its OAuth tokens; the
        hubs sign the member out and storage tokens issued before now are refused (access.py)."""
        password_hash = passwords.hash_password(self.check_strength(password))
        return self._update(username, password_hash=password_hash, then=lambda connection, account_id: end_access(
            connection, account_id, "password", keep_session=keep_session))

    def set_disabled(self, username: str, disabled: bool) -> Account:
        """Disabling also ends the account's sessions and revokes its OAuth tokens; the hubs stop the
        member's server and sign them out, and the storage refuses their tokens (access.py)."""
        if not disabled:
            return self._update(username, disabled=False)
        return self._update(username, disabled=True, then=lambda connection, account_id: end_access(
            connection, account_id, "disabled"))

    def set_admin(self, username: str, is_admin: bool) -> Account:
        return self._update(username, is_admin=is_admin)

    def set_groups(self, username: str, groups: Iterable[str]) -> Account:
        return self._update(username, groups=list(check_groups(groups)))

    def record_login(self, account_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(accounts).where(accounts.c.id == account_id).values(last_login_at=func.now()))

    def _update(self, username: str, then: Callable[[Connection, int], None] | None = None,
                **values: Any) -> Account:
        """Set ``values`` and run ``then`` (connection, account id) in the same transaction."""
        name = self.require(username).username
        with self.engine.begin() as connection:
            row = connection.execute(
                update(accounts).where(accounts.c.username == name).values(**values).returning(*_COLUMNS)
            ).one()
            if then is not None:
                then(connection, row.id)
        return Account.from_row(row)

    def _store_hash(self, account_id: int, password_hash: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(accounts).where(accounts.c.id == account_id)
                               .values(password_hash=password_hash))

