"""Who may use the admin console and its API: ``admin_of(request)``, and the wrappers every admin route uses.

An admin is either

- the portal session of an enabled admin account (the console in a browser): every unsafe method
  (POST, PUT, PATCH, DELETE) also needs the session's CSRF token, as the portal's own forms do (the
  ``csrf_token`` form field, or the ``X-CSRF-Token`` header for the console's scripts), and an Origin
  (or Referer) that is the portal's own; or
- ``Authorization: Bearer apat_…``, an admin token (identity.admin_tokens) for scripts: it needs no
  CSRF token (a browser never sends it by itself); a ``read`` token may only GET.

Anyone else is refused: 401 with no credentials or a bad token (pages redirect to /login instead),
403 for a member's session, a read token that writes, or a session's unsafe request without its CSRF
token. Every answer through these wrappers, refusals included, carries ``X-Frame-Options: DENY`` and
``Cache-Control: no-store``; the portal's SecurityHeaders adds the policy with ``frame-ancestors 'none'``.

Every owner of admin routes wraps its handlers with ``guard.api(handler)`` or ``guard.page(handler)``;
a handler takes ``(request, admin)``. Errors a handler raises (ApplianceError) become the portal's
JSON error shape, or its error page, here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from appliance.audit import Actor, FloodGate, Record, client_address, no_record
from appliance.errors import ApplianceError
from appliance.identity.csrf import CsrfSigner, same_origin
from appliance.web import error_status, json_error, render

if TYPE_CHECKING:
    from appliance.identity.accounts import Account
    from appliance.identity.sessions import Session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ADMIN_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}

NO_CREDENTIALS = ("Sign in as an administrator, or send an admin token as 'Authorization: Bearer apat_…' "
                  "(appliance users admin-token create).")
BAD_TOKEN = ("That admin token is unknown, revoked or expired, or its owner is no longer an administrator; "
             "make a new one with appliance users admin-token create.")
NOT_ADMIN = "This is for the lab's administrators only."
READ_ONLY = "This admin token may only read (scope read); make a token with scope write to change things."
NO_CSRF = ("The request did not carry this session's CSRF token or did not come from this site: reload the page "
           "and try again (scripts send an admin token instead of a session).")



class AdminToken(Protocol):
    """What the guard needs of an admin token (identity's AdminToken has it)."""

    @property
    def name(self) -> str: ...

    @property
    def account(self) -> Account: ...

    def allows(self, method: str) -> bool: ...


SessionOf = Callable[[Request], Awaitable["Session | None"]]
TokenOf = Callable[[str], Awaitable["AdminToken | None"]]  # the live admin token with this value, or None


@dataclass(frozen=True)
class Admin:
    """The administrator behind a request, and how they came."""

    account: Account
    address: str  # the client's address, for the audit log
    session: Session | None = None  # a browser's portal session
    token: AdminToken | None = None  # or a script's admin token

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def actor(self) -> str:
        """Who did it, for the audit log: ``ada``, or ``ada (token nightly-import)``."""
        return f"{self.username} (token {self.token.name})" if self.token else self.username

    @property
    def audit_actor(self) -> Actor:
        """Who did it and from where, as the audit log records it."""
        return Actor(self.actor, self.address)


class AdminRefused(ApplianceError):
    """Not an admin, or not like this: ``status`` is 401 or 403."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


Handler = Callable[[Request, Admin], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def bearer_of(request: Request) -> str | None:
    """The value of an ``Authorization: Bearer`` header ("" when malformed), or None without one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def with_admin_headers(response: Response) -> Response:
    for name, value in ADMIN_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def sign_in_redirect(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)


class AdminGuard:
    def __init__(self, session_of: SessionOf, token_of: TokenOf, csrf: CsrfSigner, record: Record = no_record):
        """``record``: the audit log's; a refused admin token is recorded (``token.refused``), up to a bound
        per address and minute (anyone can send one)."""
        self.session_of = session_of
        self.token_of = token_of
        self.csrf = csrf
        self.record_refusal = FloodGate(record)

    async def admin_of(self, request: Request) -> Admin:
        """The admin making this request, or AdminRefused (401 or 403) saying why not."""
        bearer = bearer_of(request)
        if bearer is not None:
            token = await self.token_of(bearer) if bearer else None
            if token is None:
                self.record_refusal(Actor("", client_address(request)), "token.refused", "",
                                    {"endpoint": "admin-api", "error": "unknown, revoked or expired admin token",
                                     "path": request.url.path})
                raise AdminRefused(BAD_TOKEN, 401)
            if not token.allows(request.method):
                raise AdminRefused(READ_ONLY, 403)
            return Admin(token.account, client_address(request), token=token)
        session = await self.session_of(request)
        if session is None:
            raise AdminRefused(NO_CREDENTIALS, 401)
        if not session.account.is_admin:
            raise AdminRefused(NOT_ADMIN, 403)
        if request.method not in SAFE_METHODS and not await self.csrf_ok(request, session):
            raise AdminRefused(NO_CSRF, 403)
        return Admin(session.account, client_address(request), session=session)

    def csrf_token(self, session: Session) -> str:
        """The session's token (the same as the portal's forms carry: base.html's ``csrf_for``)."""
        return self.csrf.token(b"session:" + session.digest)

    async def csrf_ok(self, request: Request, session: Session) -> bool:
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
            token = str((await request.form()).get(CSRF_FIELD, ""))  # Starlette keeps the form for the handler
        return same_origin(request) and self.csrf.check(b"session:" + session.digest, token)

    def api(self, handler: Handler) -> Endpoint:
        """An API endpoint: refusals and the handler's ApplianceErrors in the portal's JSON error shape."""
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request, await self.admin_of(request))
            except ApplianceError as error:
                response = json_error(error)
            return with_admin_headers(response)

        return endpoint

    def page(self, handler: Handler) -> Endpoint:
        """A console page: nobody is sent to sign in, a member gets the 403 page, a handler's
        ApplianceError the error page with its status."""
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request, await self.admin_of(request))
            except AdminRefused as refused:
                response = sign_in_redirect(request) if refused.status == 401 else await self.error_page(
                    request, refused)
            except ApplianceError as error:
                response = await self.error_page(request, error)
            return with_admin_headers(response)

        return endpoint

    async def error_page(self, request: Request, error: ApplianceError) -> Response:
        status = error_status(error)
        session = None if bearer_of(request) is not None else await self.session_of(request)
        return render(request, "error.html", status_code=status, status=status, message=error.message,
                      session=session)
