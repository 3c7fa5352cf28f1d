"""People: the service functions behind the console's People pages, their API and `appliance users`.

Every change an admin makes to an account goes through here, once, whoever calls it (a page, a script
with an admin token, the command line), and is recorded in the audit log with who did it. Identity
keeps the tables and their rules (names, passwords, what a disable ends); this module adds what an
administrator's action needs on top: the password shown once or a sign-up link, the last-admin guard,
and CSV import (csv_import.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from appliance.admin.errors import AdminError
from appliance.identity.directory import AccountDirectory, AccountPage, AccountQuery
from appliance.identity.invitations import INVITATION_LIFETIME, PATH

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from appliance.identity import Account, AccountTable
    from appliance.identity.access import AccessEndings
    from appliance.identity.invitations import InvitationTable

HOW = ("password", "link")  # how a new person (or a reset) gets in: a password shown once, or a sign-up link


class Record(Protocol):
    """The audit log's ``record`` (appliance.audit): who, what, on whom, with what detail."""

    def __call__(self, actor: Any, action: str, target: object = "",
                 detail: Mapping[str, Any] | None = None) -> None: ...


def no_record(actor: Any, action: str, target: object = "", detail: Mapping[str, Any] | None = None) -> None:
    """For tests that record nothing."""


@dataclass(frozen=True)
class Access:
    """How a new or reset account gets in: exactly one of a password (shown once) and a sign-up link."""

    account: Account
    password: str | None = None
    link: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"person": self.account.public(), "password": self.password, "link": self.link,
                "link_expires_in_days": INVITATION_LIFETIME.days if self.link else None}


@dataclass(frozen=True)
class NewPerson:
    username: str
    display_name: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    admin: bool = False


class People:
    def __init__(self, accounts: AccountTable, invitations: InvitationTable, endings: AccessEndings,
                 portal_origin: str, record: Record = no_record):
        self.accounts = accounts
        self.directory = AccountDirectory(accounts.engine)
        self.invitations = invitations
        self.endings = endings
        self.portal_origin = portal_origin
        self.record = record

    @classmethod
    def make(cls, engine: Engine, min_password_length: int, portal_origin: str, record: Record = no_record) -> People:
        """From the database alone (the command line)."""
        from appliance.identity import AccountTable
        from appliance.identity.access import AccessEndings
        from appliance.identity.invitations import InvitationTable

        accounts = AccountTable(engine, min_password_length)
        return cls(accounts, InvitationTable(engine, accounts), AccessEndings(engine), portal_origin, record)

    # ----- finding ------------------------------------------------------------------------------------

    def search(self, query: AccountQuery) -> AccountPage:
        return self.directory.page(query)

    def count(self, query: AccountQuery) -> int:
        return self.directory.count(query)

    def groups(self) -> list[tuple[str, int]]:
        """Every group in use with its member count, as of now (whoever changed them)."""
        return self.directory.groups()

    def get(self, username: str) -> Account:
        account = self.accounts.get(username)
        if account is None:
            raise AdminError(f"there is no account named {username!r}; search People for it.", status=404)
        return account

    # ----- making people ------------------------------------------------------------------------------

    def create(self, actor: Any, person: NewPerson, how: str = "password", password: str | None = None) -> Access:
        """Create an account; its owner gets in with a generated password (shown once) or a sign-up link.
        ``password``: the one to set instead of a generated one (the command line's --password-stdin)."""
        from appliance.identity.passwords import generate_password

        check_how(how)
        if how == "password" and password is None:
            password = generate_password()
        account = self.accounts.create(person.username, password if how == "password" else None,
                                       display_name=person.display_name, email=person.email, groups=person.groups,
                                       is_admin=person.admin)
        self.record(actor, "person.created", account.username, {"admin": person.admin, "groups": list(account.groups),
                                                                 "how": how})
        return Access(account, password if how == "password" else None,
                      self._link(account) if how == "link" else None)

    def reset_password(self, actor: Any, username: str, how: str = "password", password: str | None = None) -> Access:
        """A new generated password (shown once; their sessions end) or a sign-up link to choose one.
        ``password``: the one to set instead of a generated one."""
        from appliance.identity.passwords import generate_password

        check_how(how)
        account = self.get(username)
        if how == "link":
            self.record(actor, "person.password-reset", account.username, {"how": how})
            return Access(account, link=self._link(account))
        password = password or generate_password()
        account = self.accounts.set_password(account.username, password)
        self.record(actor, "person.password-reset", account.username, {"how": how})
        return Access(account, password=password)

    def _link(self, account: Account) -> str:
        return f"{self.portal_origin}{PATH}{self.invitations.create(account)}"

    # ----- changing people ----------------------------------------------------------------------------

    def disable(self, actor: Any, username: str) -> Account:
        """They can no longer sign in; their sessions end and their tokens are revoked now, and the hubs
        stop their server and sign them out of JupyterLab (identity's access endings)."""
        account = self.get(username)
        if account.is_admin and not account.disabled:
            self._keep_an_admin(account, "disable")
        account = self.accounts.set_disabled(account.username, True)
        self.record(actor, "person.disabled", account.username)
        return account

    def enable(self, actor: Any, username: str) -> Account:
        account = self.accounts.set_disabled(self.get(username).username, False)
        self.record(actor, "person.enabled", account.username)
        return account

    def set_admin(self, actor: Any, username: str, admin: bool) -> Account:
        account = self.get(username)
        if account.is_admin and not admin:
            self._keep_an_admin(account, "take the administrator role from")
        account = self.accounts.set_admin(account.username, admin)
        self.record(actor, "person.admin-granted" if admin else "person.admin-revoked", account.username)
        return account

    def set_groups(self, actor: Any, username: str, groups: Iterable[str]) -> Account:
        before = self.get(username)
        account = self.accounts.set_groups(before.username, groups)
        self.record(actor, "person.groups-changed", account.username,
                    {"before": list(before.groups), "after": list(account.groups)})
        return account

    def sign_out_everywhere(self, actor: Any, username: str) -> Account:
        """End every portal session of theirs and revoke their tokens; the hubs sign them out of JupyterLab."""
        account = self.get(username)
        self.endings.sign_out_everywhere(account.id)
        self.record(actor, "person.signed-out", account.username)
        return account

    def _keep_an_admin(self, account: Account, doing: str) -> None:
        if self.accounts.count_admins() <= 1:
            raise AdminError(f"{account.username} is the last administrator: make someone else an administrator "
                             f"before you {doing} them.", status=409)


def check_how(how: str) -> None:
    if how not in HOW:
        raise AdminError(f"{how!r} is not a way in: use 'password' (a generated password, shown once) or 'link' "
                         f"(a one-time sign-up link, valid {INVITATION_LIFETIME.days} days).")
