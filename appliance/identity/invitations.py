"""One-time sign-up links: an account made without a password, and a link that lets its owner choose one.

The link's secret is stored as a digest and works once, for INVITATION_LIFETIME; making a new link for
an account voids the ones before it. Choosing the password claims the link in the same transaction
that sets it, so two tabs racing with one link set one password.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from appliance.identity import passwords
from appliance.identity.accounts import _COLUMNS as ACCOUNT_COLUMNS
from appliance.identity.accounts import Account, AccountTable
from appliance.identity.digests import digest, new_secret
from appliance.identity.errors import IdentityError
from appliance.identity.tables import accounts, invitations

INVITATION_LIFETIME = timedelta(days=7)
PATH = "/welcome/"  # the link is the portal's origin, PATH and the secret
SPENT = ("This sign-up link was already used, has expired or was replaced by a newer one. Ask your lab's "
         "administrator for a new link, or sign in if you chose a password already.")


class InvitationTable:
    def __init__(self, engine: Engine, accounts: AccountTable):
        self.engine = engine
        self.accounts = accounts

    def create(self, account: Account) -> str:
        """A new link secret for ``account`` (the ones before it stop working); shown once, never stored."""
        value = new_secret()
        with self.engine.begin() as connection:
            connection.execute(invitations.delete().where(invitations.c.account_id == account.id))
            connection.execute(invitations.insert().values(digest=digest(value), account_id=account.id,
                                                           expires_at=func.now() + INVITATION_LIFETIME))
        return value

    def account_of(self, value: str) -> Account | None:
        """The enabled account a live link is for, or None."""
        if not value or len(value) > 128:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(*ACCOUNT_COLUMNS).join(invitations, invitations.c.account_id == accounts.c.id)
                .where(invitations.c.digest == digest(value), invitations.c.used_at.is_(None),
                       invitations.c.expires_at > func.now(), ~accounts.c.disabled)).first()
        return Account.from_row(row) if row else None

    def accept(self, value: str, password: str) -> Account:
        """Set the account's password from the link, once."""
        password_hash = passwords.hash_password(self.accounts.check_strength(password))
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(invitations).where(invitations.c.digest == digest(value), invitations.c.used_at.is_(None),
                                          invitations.c.expires_at > func.now())
                .values(used_at=func.now()).returning(invitations.c.account_id)).first()
            if claimed is None:
                raise IdentityError(SPENT)
            row = connection.execute(update(accounts).where(accounts.c.id == claimed.account_id, ~accounts.c.disabled)
                                     .values(password_hash=password_hash).returning(*ACCOUNT_COLUMNS)).first()
            if row is None:
                raise IdentityError(SPENT)
        return Account.from_row(row)
