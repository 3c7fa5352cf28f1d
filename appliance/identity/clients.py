"""The OAuth client registry: the hubs (first-party, no consent) and any other application."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert

from appliance.identity.digests import digest, new_secret, same
from appliance.identity.errors import ClientNotFound, IdentityError, InvalidClient
from appliance.identity.tables import clients

CLIENT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SCOPES = ("openid", "profile", "email", "groups")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class OAuthClient:
    """A registered client, in the shape authlib's ClientMixin expects."""

    client_id: str
    name: str
    secret_digest: bytes
    redirect_uris: tuple[str, ...]
    first_party: bool

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # every request must name its redirect_uri, matched exactly

    def get_allowed_scope(self, scope: str | None) -> str:
        requested = (scope or "openid").split()
        return " ".join(s for s in SCOPES if s in requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match: no prefixes, no trailing-slash slack

    def check_client_secret(self, client_secret: str) -> bool:
        return same(digest(client_secret), self.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")

    def public(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "name": self.name, "redirect_uris": list(self.redirect_uris),
                "first_party": self.first_party}


def check_redirect_uris(uris: Iterable[str]) -> list[str]:
    checked = []
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise InvalidClient(f"redirect URI {uri!r} must be an absolute http(s) URL without a #fragment.")
        checked.append(uri)
    if not checked:
        raise InvalidClient("a client needs at least one redirect URI.")
    return checked


class ClientTable:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, client_id: str, redirect_uris: Iterable[str], *, name: str = "",
            first_party: bool = False) -> tuple[OAuthClient, str]:
        """Register a client. Returns it and its secret, which is shown this once and never stored."""
        if not CLIENT_ID_PATTERN.match(client_id):
            raise InvalidClient(f"{client_id!r} is not a valid client id: lowercase letters, digits, '.', '_', '-'.")
        if self.get(client_id) is not None:
            raise IdentityError(f"a client named {client_id!r} already exists; see `appliance clients list`.")
        secret = new_secret()
        with self.engine.begin() as connection:
            connection.execute(clients.insert().values(
                client_id=client_id, name=name or client_id, secret_digest=digest(secret),
                redirect_uris=check_redirect_uris(redirect_uris), first_party=first_party))
        return self.require(client_id), secret

    def ensure(self, client_id: str, secret: str, redirect_uris: Iterable[str], *, name: str,
               first_party: bool) -> OAuthClient:
        """Create or bring up to date a client whose secret the appliance itself keeps (the hubs')."""
        values = {"name": name, "secret_digest": digest(secret), "redirect_uris": check_redirect_uris(redirect_uris),
                  "first_party": first_party}
        with self.engine.begin() as connection:
            connection.execute(insert(clients).values(client_id=client_id, **values)
                               .on_conflict_do_update(index_elements=["client_id"], set_=values))
        return self.require(client_id)

    def get(self, client_id: str | None) -> OAuthClient | None:
        if not client_id:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(clients).where(clients.c.client_id == client_id)).first()
        if row is None:
            return None
        return OAuthClient(client_id=row.client_id, name=row.name, secret_digest=row.secret_digest,
                           redirect_uris=tuple(row.redirect_uris), first_party=row.first_party)

    def require(self, client_id: str) -> OAuthClient:
        client = self.get(client_id)
        if client is None:
            raise ClientNotFound(f"there is no client named {client_id!r}; see `appliance clients list`.")
        return client

    def list(self) -> list[OAuthClient]:
        with self.engine.connect() as connection:
            ids = connection.execute(select(clients.c.client_id).order_by(clients.c.client_id)).scalars().all()
        return [self.require(client_id) for client_id in ids]

    def remove(self, client_id: str) -> None:
        self.require(client_id)
        with self.engine.begin() as connection:
            connection.execute(clients.delete().where(clients.c.client_id == client_id))

    def rotate_secret(self, client_id: str) -> str:
        self.require(client_id)
        secret = new_secret()
        with self.engine.begin() as connection:
            connection.execute(update(clients).where(clients.c.client_id == client_id)
                               .values(secret_digest=digest(secret)))
        return secret
