"""The identity service: the tables and the provider wired together, and signing in."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from appliance.audit import Actor, Record, no_record
from appliance.home import Home
from appliance.identity.access import AccessEndings
from appliance.identity.accounts import Account, AccountTable, normalize_username
from appliance.identity.admin_tokens import AdminTokenTable
from appliance.identity.clients import ClientTable
from appliance.identity.csrf import CsrfSigner
from appliance.identity.errors import InvalidUsername, SignInBusy, SignInRefused
from appliance.identity.invitations import InvitationTable
from appliance.identity.keys import load_signing_key
from appliance.identity.oauth import Provider
from appliance.identity.passwords import HashingBusy, HashingSlots
from appliance.identity.sessions import Session, SessionTable, cookie_name
from appliance.identity.settings import IdentitySettings
from appliance.identity.throttle import LoginThrottle

WRONG_CREDENTIALS = "Wrong username or password."
DISABLED = "This account is disabled. Ask your lab's administrator to enable it."
BUSY = "The portal is busy checking other sign-ins. Try again in a few seconds."
BUSY_RETRY_S = 2


def secure_context(request: Request) -> bool:
    """Whether the browser treats the portal's page as a secure context, so that its cookies are Secure
    and the session cookie ``__Host-`` (which no other host can set or widen): reached over HTTPS
    (behind the front proxy too), or on a *.localhost name, which browsers trust over plain HTTP (the
    trial names; checked in Chromium 156, see docs/notes.md)."""
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host == "localhost" or host.endswith(".localhost")


SIGN_INS = Counter("appliance_sign_ins", "Sign-ins at the portal's form, by result: ok, refused (a wrong name or "
                   "password), disabled, locked (too many failures), busy (every password check slot taken).",
                   ["result"])
for _result in ("ok", "refused", "disabled", "locked", "busy"):
    SIGN_INS.labels(_result)  # each series from the start, at 0


class Identity:
    def __init__(self, engine: Engine, settings: IdentitySettings, home: Home, issuer: str,
                 record: Record = no_record):
        """``record``: the audit log's, for sign-ins, failures, lock-outs, sign-outs, password changes and
        refused tokens (it never raises and never waits)."""
        self.record = record
        self.settings = settings
        self.home = home
        self.issuer = issuer
        self.accounts = AccountTable(engine, settings.min_password_length)
        self.sessions = SessionTable(engine, settings.session_lifetime_s)
        self.admin_tokens = AdminTokenTable(engine)  # for the admin API's scripts (appliance.admin.guard)
        self.invitations = InvitationTable(engine, self.accounts)  # one-time sign-up links
        self.access = AccessEndings(engine)  # for discovery (the hubs) and the storage
        self.throttle = LoginThrottle(engine, settings)
        self.clients = ClientTable(engine)
        self.csrf = CsrfSigner(home.secret("csrf-key"))
        self.hashing = HashingSlots(settings.max_concurrent_password_checks)
        self.provider = Provider(engine, settings, issuer, load_signing_key(home), self.accounts, self.clients)

    def sign_in(self, username: str, password: str, address: str, *, checking: bool = False) -> Account:
        """Check the credentials under the throttle. The same refusal for an unknown name and a wrong
        password; a disabled account is only named once its password was right. When every hashing
        slot is taken the answer is SignInBusy, at once, and counts as no failure.

        Recorded in the audit log: the sign-in, a failure, the failure that locks the name or address
        out, a disabled account's right password. ``checking``: the password change's check of the
        current password (its failure is recorded as such; its success is the change's to record)."""
        try:
            key = normalize_username(username)
        except InvalidUsername:
            key = username.strip().casefold()[:64]
        who = Actor(key, address)

        def count(result: str) -> None:
            if not checking:  # a password change's check is no sign-in
                SIGN_INS.labels(result).inc()

        try:
            self.throttle.check(key, address)
        except SignInRefused:
            count("locked")
            raise
        try:
            with self.hashing.slot():
                account = self.accounts.check_password(username, password)
        except HashingBusy:
            count("busy")
            raise SignInBusy(BUSY, retry_after_s=BUSY_RETRY_S) from None
        if account is None:
            count("refused")
            self.throttle.record_failure(key, address)
            self.record(who, "password.change-failed" if checking else "sign-in.failed", key)
            self._record_lockout(who, key)
            raise SignInRefused(WRONG_CREDENTIALS)
        if account.disabled:
            count("disabled")
            self.record(who, "sign-in.disabled", account.username)
            raise SignInRefused(DISABLED)
        count("ok")
        self.throttle.clear(key)
        self.accounts.record_login(account.id)
        if not checking:
            self.record(Actor(account.username, address), "sign-in", account.username)
        return account

    def _record_lockout(self, who: Actor, key: str) -> None:
        """If this failure locked the name or the address out, say so (once: locked out, no more are counted)."""
        try:
            self.throttle.check(key, who.address)
        except SignInRefused as locked:
            self.record(who, "sign-in.locked-out", key, {"for_s": locked.retry_after_s, "why": locked.message})

    def session_cookie(self, request: Request) -> str:
        return cookie_name(secure=secure_context(request))

    async def session_of(self, request: Request) -> Session | None:
        """The signed-in session of this request (looked up once per request)."""
        if not hasattr(request.state, "session"):
            value = request.cookies.get(self.session_cookie(request))
            request.state.session = await run_in_threadpool(self.sessions.get, value) if value else None
        session: Session | None = request.state.session
        return session

