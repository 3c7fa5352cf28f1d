"""Identity: accounts, sessions, sign-in, and the OAuth2/OIDC provider the hubs log in through.

The settings are imported eagerly (config.py reads them); everything else on first use, so that
commands which never touch identity do not pay for SQLAlchemy, authlib and argon2 at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from appliance.identity.settings import IdentitySettings

if TYPE_CHECKING:
    from appliance.identity.access import ENDINGS_CHANNEL as ENDINGS_CHANNEL
    from appliance.identity.accounts import Account as Account
    from appliance.identity.accounts import AccountTable as AccountTable
    from appliance.identity.admin_tokens import AdminToken as AdminToken
    from appliance.identity.admin_tokens import AdminTokenTable as AdminTokenTable
    from appliance.identity.bootstrap import bootstrap as bootstrap
    from appliance.identity.clients import ClientTable as ClientTable
    from appliance.identity.clients import OAuthClient as OAuthClient
    from appliance.identity.errors import IdentityError as IdentityError
    from appliance.identity.first_admin import read_initial_admin as read_initial_admin
    from appliance.identity.pages import IdentityPages as IdentityPages
    from appliance.identity.routes import routes as routes
    from appliance.identity.service import Identity as Identity

_EXPORTS = {
    "ENDINGS_CHANNEL": "access",
    "Account": "accounts",
    "AccountTable": "accounts",
    "AdminToken": "admin_tokens",
    "AdminTokenTable": "admin_tokens",
    "ClientTable": "clients",
    "Identity": "service",
    "IdentityError": "errors",
    "IdentityPages": "pages",
    "OAuthClient": "clients",
    "bootstrap": "bootstrap",
    "read_initial_admin": "first_admin",
    "routes": "routes",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # importing the submodule `routes` bound that name to the module: rebind it
    return value


__all__ = ["IdentitySettings", *_EXPORTS]
