"""First start: the id_token signing key and the first administrator."""

from __future__ import annotations

from sqlalchemy import Engine

from appliance.audit import SYSTEM, Record, no_record
from appliance.home import Home
from appliance.identity.accounts import AccountTable
from appliance.identity.first_admin import FIRST_ADMIN, write_initial_admin
from appliance.identity.keys import KEY_FILE, ensure_signing_key
from appliance.identity.passwords import generate_password


def bootstrap(engine: Engine, home: Home, record: Record = no_record) -> str | None:
    """Ensure the signing key; create the first admin if there is no account at all. Both are recorded in
    the audit log as done by the appliance itself.

    Returns a line for the log (never the password, which goes to a 0600 file in the home).
    """
    if ensure_signing_key(home):
        record(SYSTEM, "signing-key.created", KEY_FILE, {"use": "id_token signatures (RS256)"})
    accounts = AccountTable(engine)
    if accounts.list():
        return None
    password = generate_password()
    accounts.create(FIRST_ADMIN, password, display_name="Administrator", is_admin=True)
    record(SYSTEM, "person.created", FIRST_ADMIN, {"admin": True, "first": True})
    path = write_initial_admin(home, FIRST_ADMIN, password)
    return f"created the first administrator {FIRST_ADMIN!r}; its password is in {path}"
