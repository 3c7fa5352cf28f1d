"""The OAuth2/OpenID Connect provider: authlib's grants on our tables, stricter than its defaults.

authlib is synchronous and framework-neutral: handlers read the request (form included) first, build
a ``PortalOAuthRequest`` and call the provider in a worker thread. Changes from authlib's defaults:
PKCE with S256 for every client (``plain`` and a missing challenge are refused); refresh tokens rotate
on use and a reused one revokes its whole family; a replayed code revokes what it issued; codes,
tokens and client secrets are stored only as digests; refresh and revocation accept
client_secret_post as well as client_secret_basic.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oidc.core import OpenIDCode
from joserfc.jwk import RSAKey
from sqlalchemy import Connection, Engine, func, or_, select, update
from starlette.datastructures import FormData, Headers, QueryParams

from appliance.identity.accounts import Account, AccountTable
from appliance.identity.clients import AUTH_METHODS, ClientTable, OAuthClient
from appliance.identity.digests import digest, new_secret
from appliance.identity.settings import IdentitySettings
from appliance.identity.tables import codes, tokens


class Payload:
    """Query and form parameters together, as authlib's OAuth2Payload."""

    def __init__(self, query: QueryParams, form: FormData | None):
        self.datalist: defaultdict[str, list[str]] = defaultdict(list)
        for source in (query, form or FormData()):
            for key, value in source.multi_items():
                if isinstance(value, str):
                    self.datalist[key].append(value)
        self.data = {key: values[0] for key, values in self.datalist.items()}

    def __getattr__(self, name: str) -> Any:
        if name in ("client_id", "grant_type", "redirect_uri", "scope", "state"):
            return self.data.get(name)
        if name == "response_type":
            value = self.data.get("response_type")
            return " ".join(sorted(value.split())) if value and " " in value else value
        raise AttributeError(name)


class PortalOAuthRequest(OAuth2Request):  # type: ignore[misc]
    """An already-read Starlette request, in the shape authlib's grants expect."""

    def __init__(self, method: str, url: str, headers: Headers, query: QueryParams, form: FormData | None):
        super().__init__(method, url, headers=headers)  # Starlette's Headers: case-insensitive, as Basic auth needs
        self._query = query
        self._form = {key: value for key, value in (form or FormData()).items() if isinstance(value, str)}
        self.payload = Payload(query, form)

    @property
    def args(self) -> QueryParams:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass(frozen=True)
class StoredCode:
    digest: bytes
    client_id: str
    account_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass(frozen=True)
class StoredToken:
    id: int
    family: uuid.UUID
    client_id: str
    account_id: int
    scope: str
    access_expires_at: datetime

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - datetime.now(timezone.utc)).total_seconds())

    def is_expired(self) -> bool:
        return self.get_expires_in() <= 0

    def is_revoked(self) -> bool:
        return False  # revoked rows are never returned


def _revoke_family(connection: Connection, condition: Any) -> None:
    connection.execute(update(tokens).where(condition, tokens.c.revoked_at.is_(None)).values(revoked_at=func.now()))


class StrictPkce(CodeChallenge):  # type: ignore[misc]
    """PKCE required for every client, S256 only."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    provider: Provider  # set on the subclass the provider registers

    def save_authorization_code(self, code: str, request: PortalOAuthRequest) -> None:
        data = request.payload.data
        lifetime = timedelta(seconds=self.provider.settings.code_lifetime_s)
        with self.provider.engine.begin() as connection:
            # housekeeping: a used code is kept a day to recognise replays, then forgotten
            connection.execute(codes.delete().where(codes.c.expires_at < func.now() - timedelta(days=1)))
            connection.execute(codes.insert().values(
                digest=digest(code), client_id=request.client.client_id, account_id=request.user.id,
                redirect_uri=request.payload.redirect_uri, scope=request.scope or "", nonce=data.get("nonce"),
                code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
                auth_time=func.now(), expires_at=func.now() + lifetime,
            ))

    def query_authorization_code(self, code: str, client: OAuthClient) -> StoredCode | None:
        """Use the code up, atomically. A code presented twice revokes every token it issued."""
        key = digest(code)
        with self.provider.engine.begin() as connection:
            row = connection.execute(
                update(codes).where(codes.c.digest == key, codes.c.client_id == client.client_id,
                                    codes.c.used_at.is_(None), codes.c.expires_at > func.now())
                .values(used_at=func.now()).returning(*codes.c)
            ).first()
            if row is None:
                _revoke_family(connection, tokens.c.code_digest == key)
                return None
        return StoredCode(digest=row.digest, client_id=row.client_id, account_id=row.account_id,
                          redirect_uri=row.redirect_uri, scope=row.scope, nonce=row.nonce,
                          code_challenge=row.code_challenge, code_challenge_method=row.code_challenge_method,
                          auth_time=row.auth_time)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        pass  # kept, marked used, so that a replay is recognised

    def authenticate_user(self, authorization_code: StoredCode) -> Account | None:
        return self.provider.live_account(authorization_code.account_id)


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every use returns a new refresh token
    provider: Provider

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        with self.provider.engine.begin() as connection:
            row = connection.execute(select(tokens).where(tokens.c.refresh_digest == digest(refresh_token))).first()
            if row is None or row.revoked_at is not None:
                return None
            if row.rotated_at is not None:  # reuse of a replaced refresh token: the family is compromised
                _revoke_family(connection, tokens.c.family == row.family)
                return None
            if row.refresh_expires_at is None or row.refresh_expires_at <= datetime.now(timezone.utc):
                return None
        return _stored_token(row)

    def authenticate_user(self, refresh_token: StoredToken) -> Account | None:
        return self.provider.live_account(refresh_token.account_id)

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        with self.provider.engine.begin() as connection:
            connection.execute(update(tokens).where(tokens.c.id == refresh_token.id).values(rotated_at=func.now()))


class IdToken(OpenIDCode):  # type: ignore[misc]
    """id_token signed RS256 with the appliance's key."""

    provider: Provider

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def resolve_client_private_key(self, client: OAuthClient) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: OAuthClient) -> str:
        return "RS256"

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.provider.key.kid), "typ": "JWT"}

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.provider.issuer, "aud": [client.client_id], "iat": now,
                "exp": now + self.provider.settings.access_token_lifetime_s}

    def generate_user_info(self, user: Account, scope: str) -> dict[str, Any]:
        return user_claims(user, scope)


def user_claims(account: Account, scope: str) -> dict[str, Any]:
    """The claims ``scope`` grants: sub always; profile, email and groups (with the admin flag)."""
    scopes = scope.split()
    claims: dict[str, Any] = {"sub": account.subject}
    if "profile" in scopes:
        claims.update(preferred_username=account.username, name=account.name)
    if "email" in scopes:
        claims["email"] = account.email
    if "groups" in scopes:
        claims.update(groups=list(account.groups), admin=account.is_admin)
    return claims


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    provider: Provider

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        key = digest(token_string)
        with self.provider.engine.connect() as connection:
            row = connection.execute(select(tokens).where(
                or_(tokens.c.access_digest == key, tokens.c.refresh_digest == key))).first()
        return _stored_token(row) if row is not None else None

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        with self.provider.engine.begin() as connection:
            _revoke_family(connection, tokens.c.id == token.id)


def _stored_token(row: Any) -> StoredToken:
    return StoredToken(id=row.id, family=row.family, client_id=row.client_id, account_id=row.account_id,
                       scope=row.scope, access_expires_at=row.access_expires_at)


class Provider(AuthorizationServer):  # type: ignore[misc]
    """authlib's AuthorizationServer bound to the identity tables."""

    def __init__(self, engine: Engine, settings: IdentitySettings, issuer: str, key: RSAKey,
                 accounts: AccountTable, client_table: ClientTable):
        super().__init__(scopes_supported=["openid", "profile", "email", "groups"])
        self.engine = engine
        self.settings = settings
        self.issuer = issuer
        self.key = key
        self.accounts = accounts
        self.client_table = client_table
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: new_secret(),
            refresh_token_generator=lambda **_: new_secret(),
            expires_generator=lambda client, grant_type: settings.access_token_lifetime_s,
        ))
        bind = {"provider": self}
        self.register_grant(type("BoundCodeGrant", (CodeGrant,), bind),
                            [StrictPkce(required=True), type("BoundIdToken", (IdToken,), bind)()])
        self.register_grant(type("BoundRefreshGrant", (RefreshGrant,), bind))
        self.register_endpoint(type("BoundRevocation", (Revocation,), bind))

    # ----- what authlib needs from a framework integration ----------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self.client_table.get(client_id)

    def save_token(self, token: dict[str, Any], request: PortalOAuthRequest) -> None:
        code: StoredCode | None = request.authorization_code
        previous: StoredToken | None = request.refresh_token
        now = datetime.now(timezone.utc)
        with self.engine.begin() as connection:
            connection.execute(tokens.delete().where(  # housekeeping: nothing in the row can be used any more
                tokens.c.access_expires_at < func.now(), tokens.c.refresh_expires_at < func.now()))
            connection.execute(tokens.insert().values(
                access_digest=digest(token["access_token"]),
                refresh_digest=digest(token["refresh_token"]) if token.get("refresh_token") else None,
                family=previous.family if previous else uuid.uuid4(),
                code_digest=code.digest if code else None,
                client_id=request.client.client_id, account_id=request.user.id, scope=token.get("scope", ""),
                access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
                refresh_expires_at=now + timedelta(seconds=self.settings.refresh_token_lifetime_s),
            ))

    def create_oauth2_request(self, request: PortalOAuthRequest) -> PortalOAuthRequest:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    # ----- lookups for the routes -----------------------------------------------------------------

    def live_account(self, account_id: int) -> Account | None:
        account = self.accounts.by_id(account_id)
        return account if account is not None and not account.disabled else None

    def account_for_access_token(self, access_token: str) -> tuple[Account, str] | None:
        """The account and scope of a live access token, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(tokens.c.account_id, tokens.c.scope).where(
                tokens.c.access_digest == digest(access_token), tokens.c.revoked_at.is_(None),
                tokens.c.access_expires_at > func.now())).first()
        if row is None:
            return None
        account = self.live_account(row.account_id)
        return (account, row.scope) if account else None


__all__ = ["PortalOAuthRequest", "Provider", "create_s256_code_challenge", "user_claims"]
