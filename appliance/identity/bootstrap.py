"""First start: the id_token signing key and the first administrator."""

from __future__ import annotations

from sqlalchemy import Engine

from appliance.home import Home
from appliance.identity.accounts import AccountTable
from appliance.identity.first_admin import FIRST_ADMIN, write_initial_admin
from appliance.identity.keys import ensure_signing_key
from appliance.identity.passwords import generate_password


def bootstrap(engine: Engine, home: Home) -> str | None:
    """Ensure the signing key; create the first admin if there is no account at all.

    Returns a line for the log (never the password, which goes to a 0600 file in the home).
    """
    ensure_signing_key(home)
    accounts = AccountTable(engine)
    if accounts.list():
        return None
    password = generate_password()
    accounts.create(FIRST_ADMIN, password, display_name="Administrator", is_admin=True)
    path = write_initial_admin(home, FIRST_ADMIN, password)
    return f"created the first administrator {FIRST_ADMIN!r}; its password is in {path}"
