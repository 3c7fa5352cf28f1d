"""The portal's identity pages: sign in, sign out, change password."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from appliance.audit import Actor, client_address
from appliance.identity.accounts import Account
from appliance.identity.csrf import PRESESSION_COOKIE, same_origin
from appliance.identity.digests import new_secret
from appliance.identity.errors import IdentityError, SignInBusy, SignInRefused
from appliance.identity.first_admin import forget_initial_admin
from appliance.identity.invitations import SPENT
from appliance.identity.service import Identity, secure_context
from appliance.identity.sessions import Session
from appliance.web import allow_form_target, render

MAX_FIELD = 1024  # longer usernames and passwords are refused before any hashing


def safe_next(target: str | None) -> str:
    """Only a path on this origin: never //host, a scheme, or a backslash trick."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


class IdentityPages:
    def __init__(self, identity: Identity):
        self.identity = identity

    # ----- sign in ---------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        session = await self.identity.session_of(request)
        if request.method == "GET":
            target = safe_next(request.query_params.get("next"))
            await self._allow_oauth_redirect(request, target)
            if session is not None:
                return RedirectResponse(target, status_code=303)
            return self._login_form(request, target)
        form = await request.form()
        target = safe_next(str(form.get("next", "")))
        await self._allow_oauth_redirect(request, target)
        presession = request.cookies.get(PRESESSION_COOKIE, "")
        if not same_origin(request) or not presession or not self.identity.csrf.check(
                "login:" + presession, str(form.get("csrf_token", ""))):
            return self._login_form(request, target, status_code=403,
                                    error="Your sign-in form expired. Please try again.")
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        if not username or not password or len(username) > MAX_FIELD or len(password) > MAX_FIELD:
            return self._login_form(request, target, status_code=400, username=username[:64],
                                    error="Enter your username and password.")
        try:
            account = await run_in_threadpool(self.identity.sign_in, username, password, client_address(request))
        except SignInRefused as refused:
            status = 503 if isinstance(refused, SignInBusy) else 429 if refused.retry_after_s else 401
            response = self._login_form(request, target, username=username[:64], error=refused.message,
                                        status_code=status)
            if refused.retry_after_s:
                response.headers["Retry-After"] = str(refused.retry_after_s)
            return response
        value = await run_in_threadpool(self.identity.sessions.create, account.id, client_address(request),
                                        request.headers.get("user-agent", ""))
        response = RedirectResponse(target, status_code=303)
        self._set_session_cookie(request, response, value)
        response.delete_cookie(PRESESSION_COOKIE, path="/login", secure=secure_context(request))
        return response

    async def _allow_oauth_redirect(self, request: Request, target: str | None) -> None:
        """Signing in on the way to /oauth/authorize ends in a redirect to the client's callback, which
        the page's form-action must allow: the callback of that client, if it is one of its own."""
        parts = urlsplit(target or "")
        if parts.path != "/oauth/authorize" or parts.netloc:
            return
        query = parse_qs(parts.query)
        client_id, redirect_uri = (query.get(key, [""])[0] for key in ("client_id", "redirect_uri"))
        client = await run_in_threadpool(self.identity.clients.get, client_id) if client_id else None
        if client is not None and client.check_redirect_uri(redirect_uri):
            allow_form_target(request, redirect_uri)

    def _login_form(self, request: Request, target: str, status_code: int = 200, **context: object) -> Response:
        presession = request.cookies.get(PRESESSION_COOKIE) or new_secret()
        response = render(request, "login.html", status_code=status_code, next=target,
                          csrf_token=self.identity.csrf.token("login:" + presession), **context)
        response.set_cookie(PRESESSION_COOKIE, presession, path="/login", httponly=True, samesite="lax",
                            secure=secure_context(request))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _set_session_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(self.identity.session_cookie(request), value,
                            max_age=self.identity.settings.session_lifetime_s, path="/", httponly=True,
                            samesite="lax", secure=secure_context(request))

    # ----- sign out --------------------------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        """Signs out only with the session's CSRF token. Anything else changes nothing, the cookie
        included: a cross-site form (which SameSite=Lax sends without the cookie) would otherwise clear
        the browser's cookie and leave its session valid."""
        session = await self.identity.session_of(request)
        if session is None:
            return RedirectResponse("/", status_code=303)
        form = await request.form()
        if not self._csrf_ok(request, session, str(form.get("csrf_token", ""))):
            return render(request, "error.html", status_code=403, status=403, session=session,
                          message="Sign-out was refused: the form did not come from this site. Try again.")
        await run_in_threadpool(self.identity.access.sign_out, session.digest)  # hubs and OAuth tokens too
        self.identity.record(Actor.of_request(session.account.username, request), "sign-out",
                             session.account.username)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(self.identity.session_cookie(request), path="/", secure=secure_context(request))
        return response

    # ----- change password -------------------------------------------------------------------------

    async def change_password(self, request: Request) -> Response:
        session = await self.identity.session_of(request)
        if session is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if request.method == "GET":
            return self._password_form(request, session)
        form = await request.form()
        if not self._csrf_ok(request, session, str(form.get("csrf_token", ""))):
            return self._password_form(request, session, status_code=403,
                                       error="The form expired or did not come from this site. Try again.")
        current, new, confirm = (str(form.get(k, ""))[:MAX_FIELD] for k in ("current", "new", "confirm"))
        username = session.account.username
        try:
            await run_in_threadpool(partial(self.identity.sign_in, checking=True), username, current,
                                    client_address(request))
        except SignInRefused as refused:
            return self._password_form(request, session, status_code=400,
                                       error="Your current password is wrong." if not refused.retry_after_s
                                       else refused.message)
        if new != confirm:
            return self._password_form(request, session, status_code=400, error="The new passwords do not match.")
        try:
            await run_in_threadpool(self.identity.accounts.set_password, username, new, keep_session=session.digest)
        except IdentityError as error:
            return self._password_form(request, session, status_code=400, error=error.message)
        forget_initial_admin(self.identity.home, username)
        self.identity.record(Actor.of_request(username, request), "password.changed", username,
                             {"other_sessions_ended": True})
        return self._password_form(request, session, done=True)

    def _password_form(self, request: Request, session: Session, status_code: int = 200,
                       **context: object) -> Response:
        return render(request, "password.html", status_code=status_code, session=session,
                      csrf_token=self.csrf_token(session),
                      min_length=self.identity.settings.min_password_length, **context)

    # ----- a one-time sign-up link ------------------------------------------------------------------

    async def welcome(self, request: Request) -> Response:
        """Choose a password from an admin's sign-up link (invitations.py), then sign in with it."""
        secret = request.path_params["secret"]
        account = await run_in_threadpool(self.identity.invitations.account_of, secret)
        if account is None:
            return render(request, "error.html", status_code=410, status=410, title="Link no longer valid",
                          message=SPENT)
        if request.method == "GET":
            return self._welcome_form(request, secret, account)
        form = await request.form()
        if not same_origin(request) or not self.identity.csrf.check("welcome:" + secret,
                                                                    str(form.get("csrf_token", ""))):
            return self._welcome_form(request, secret, account, status_code=403,
                                      error="The form expired or did not come from this site. Try again.")
        new, confirm = (str(form.get(key, ""))[:MAX_FIELD] for key in ("new", "confirm"))
        if new != confirm:
            return self._welcome_form(request, secret, account, status_code=400,
                                      error="The passwords do not match.")
        try:
            await run_in_threadpool(self.identity.invitations.accept, secret, new)
        except IdentityError as error:
            return self._welcome_form(request, secret, account, status_code=400, error=error.message)
        return RedirectResponse("/login", status_code=303)

    def _welcome_form(self, request: Request, secret: str, account: Account, status_code: int = 200,
                      **context: object) -> Response:
        response = render(request, "welcome.html", status_code=status_code, account=account,
                          csrf_token=self.identity.csrf.token("welcome:" + secret),
                          min_length=self.identity.settings.min_password_length, **context)
        response.headers["Cache-Control"] = "no-store"
        # the secret is in the address: the portal's same-origin policy keeps it from other sites (no-referrer
        # would make Chromium send "Origin: null" with the form, which the CSRF check refuses)
        return response

    def csrf_token(self, session: Session) -> str:
        return self.identity.csrf.token(b"session:" + session.digest)

    def _csrf_ok(self, request: Request, session: Session, token: str) -> bool:
        return same_origin(request) and self.identity.csrf.check(b"session:" + session.digest, token)
