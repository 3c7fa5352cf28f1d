"""The OAuth2/OIDC endpoints: authorize (with consent), token, userinfo, revoke, discovery, JWKS."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, unquote

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from appliance.audit import Actor, FloodGate, client_address
from appliance.identity.clients import AUTH_METHODS, SCOPES
from appliance.identity.csrf import same_origin
from appliance.identity.keys import public_jwks
from appliance.identity.oauth import PortalOAuthRequest, user_claims
from appliance.identity.pages import IdentityPages
from appliance.identity.service import Identity
from appliance.web import allow_form_target, render

MAX_FORM_FIELDS = 50
REFUSALS_PER_MINUTE = 30  # refused tokens recorded per address and minute; the rest are counted (audit FloodGate)


def error_of(result: tuple[int, Any, Any]) -> str:
    """The OAuth error code of a refusal (``invalid_grant``, ``invalid_client``, …)."""
    body = result[1]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    return str(body.get("error", ""))[:64] if isinstance(body, dict) else ""


def to_response(result: tuple[int, Any, Any]) -> Response:
    status, body, headers = result
    content = json.dumps(body) if isinstance(body, dict) else body
    return Response(content, status_code=status, headers=dict(headers or []))


def client_of(request: PortalOAuthRequest) -> str:
    """The client a token request named (authenticated or not): its form's client_id or Basic user name."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return unquote(base64.b64decode(value).decode().partition(":")[0])
        except ValueError:
            return ""
    return str(request.payload.client_id or "")


class OAuthEndpoints:
    def __init__(self, identity: Identity, pages: IdentityPages):
        self.identity = identity
        self.provider = identity.provider
        self.pages = pages
        # anyone can send a bad token at no cost: a minute's refusals from one address are recorded up to a bound
        self.record_refusal = FloodGate(identity.record, per_minute=REFUSALS_PER_MINUTE)

    def _refused(self, request: Request, oauth_request: PortalOAuthRequest | None, endpoint: str,
                 error: str) -> None:
        """Record a refused token, code or client credential in the audit log (actor: the client it named)."""
        client = client_of(oauth_request) if oauth_request is not None else ""
        detail = {"endpoint": endpoint, "error": error}
        if oauth_request is not None and oauth_request.payload.grant_type:
            detail["grant_type"] = str(oauth_request.payload.grant_type)
        self.record_refusal(Actor(f"client:{client}" if client else "", client_address(request)), "token.refused",
                            client, detail)

    async def _oauth_request(self, request: Request) -> PortalOAuthRequest:
        form = await request.form(max_fields=MAX_FORM_FIELDS) if request.method == "POST" else None
        return PortalOAuthRequest(request.method, str(request.url), request.headers, request.query_params, form)

    # ----- authorization endpoint ------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        oauth_request = await self._oauth_request(request)
        session = await self.identity.session_of(request)
        account = session.account if session else None
        try:
            grant = await run_in_threadpool(self.provider.get_consent_grant, oauth_request, account)
        except OAuth2Error as error:
            return self._authorization_error(request, error)
        if session is None:
            target = request.url.path + ("?" + request.url.query if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        client = grant.client
        if request.method == "GET" and not client.first_party:
            allow_form_target(request, grant.request.payload.redirect_uri)  # where Allow and Deny lead
            return render(request, "consent.html", session=session, client=client,
                          scopes=grant.request.scope.split(), csrf_token=self.pages.csrf_token(session),
                          action=str(request.url))
        if request.method == "POST":
            form = oauth_request.form
            if not same_origin(request) or not self.identity.csrf.check(b"session:" + session.digest,
                                                                         form.get("csrf_token")):
                return render(request, "error.html", status_code=403, status=403, session=session,
                              message="The consent form did not come from this site. Start the sign-in again.")
            if form.get("decision") != "allow":
                account = None  # authlib answers the client with error=access_denied
        result = await run_in_threadpool(self.provider.create_authorization_response, oauth_request, account, grant)
        return to_response(result)

    def _authorization_error(self, request: Request, error: OAuth2Error) -> Response:
        """Errors go back to the client only when its redirect URI was verified; else a page here."""
        if getattr(error, "redirect_uri", None):
            return to_response(self.provider.handle_error_response(None, error))
        message = error.description or error.error
        return render(request, "error.html", status_code=400, status=400, title="This sign-in link is not valid",
                      message=f"{message} The application that sent you here is misconfigured; tell its "
                              "administrator. Nothing was shared with it.")

    # ----- token, userinfo, revocation -------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        oauth_request = await self._oauth_request(request)
        result = await run_in_threadpool(self.provider.create_token_response, oauth_request)
        if result[0] >= 400:
            self._refused(request, oauth_request, "token", error_of(result))
        return to_response(result)

    async def revoke(self, request: Request) -> Response:
        oauth_request = await self._oauth_request(request)
        result = await run_in_threadpool(self.provider.create_endpoint_response, "revocation", oauth_request)
        if result[0] >= 400:
            self._refused(request, oauth_request, "revoke", error_of(result))
        return to_response(result)

    async def userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = None
        if scheme.lower() == "bearer" and token:
            found = await run_in_threadpool(self.provider.account_for_access_token, token.strip())
        if found is None:
            self._refused(request, None, "userinfo", "invalid_token")
            return JSONResponse({"error": "invalid_token", "error_description": "The access token is not valid."},
                                status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        account, scope = found
        return JSONResponse(user_claims(account, scope), headers={"Cache-Control": "no-store"})

    # ----- discovery -------------------------------------------------------------------------------

    async def openid_configuration(self, request: Request) -> Response:
        issuer = self.identity.issuer
        return JSONResponse({
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "userinfo_endpoint": f"{issuer}/oauth/userinfo",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username",
                                 "name", "email", "groups", "admin"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(public_jwks(self.provider.key))
