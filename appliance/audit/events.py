"""What an audit event is, the actions the appliance records, and how an event is made safe to store.

Callers describe an event with an ``Actor`` (who, and from where) and a dotted action name. What a
member typed reaches the log too (the name given at a failed sign-in), so every text is cut to a bound
and stripped of control characters, and ``detail`` is made JSON, bounded in size.
"""

from __future__ import annotations

import getpass
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$")
MAX_TEXT = 256  # characters of actor, target and address kept
MAX_DETAIL_BYTES = 4096  # a larger detail is replaced by its beginning, marked truncated

# The actions recorded so far, with what each means (the console's filter offers them). Other
# components add theirs here: a name is <noun>[.<verb or outcome>].
ACTIONS: dict[str, str] = {
    "sign-in": "signed in to the portal",
    "sign-in.failed": "a sign-in with a wrong username or password",
    "sign-in.locked-out": "too many failed sign-ins: the account name or the address is locked out",
    "sign-in.disabled": "the right password for a disabled account",
    "sign-out": "signed out of the portal",
    "password.changed": "a member changed their own password",
    "password.change-failed": "a password change refused: the current password was wrong",
    "token.refused": "an OAuth token, code or client credential the portal refused",
    "oauth-client.added": "an OAuth client was registered",
    "oauth-client.removed": "an OAuth client was removed",
    "oauth-client.secret-rotated": "an OAuth client's secret was replaced",
    "signing-key.created": "the key that signs id_tokens was created",
    "master-key.rotated": "the storage master key was rotated",
    "gallery.hidden": "a publication was hidden from the gallery",
    "gallery.unhidden": "a hidden publication was shown again",
    "gallery.deleted": "a publication was deleted for good",
    "gallery.rerendered": "a publication's version was queued for rendering again",
    "gallery.featured": "a publication was pinned at the top of the gallery",
    "gallery.unfeatured": "a publication is no longer pinned at the top of the gallery",
    "gallery.reported": "a member reported a publication to the administrators",
    "gallery.report-dismissed": "an administrator dismissed a report without acting on the publication",
    "hub.drained": "a hub was drained: it takes no new members",
    "hub.undrained": "a drained hub takes new members again",
    "hub.restarted": "a hub was restarted",
    "person.created": "an administrator created an account (a password shown once, or a sign-up link)",
    "person.password-reset": "an administrator set a new password or made a sign-up link",
    "person.disabled": "an account was disabled: its sessions and tokens ended, its server stops",
    "person.enabled": "a disabled account was enabled",
    "person.admin-granted": "an account was made an administrator",
    "person.admin-revoked": "an account is no longer an administrator",
    "person.groups-changed": "an account's groups were changed",
    "person.signed-out": "an administrator signed someone out everywhere",
    "person.server-stopped": "an administrator stopped someone's server",
    "person.moved": "an administrator moved someone to another hub",
    "admin-token.created": "an admin token was made for scripts",
    "admin-token.revoked": "an admin token was revoked",
    "env.created": "a shared environment was made: a kernel for every member",
    "env.deleted": "a shared environment and its kernel were deleted",
    "env.packages-added": "packages were installed into a shared environment",
    "env.packages-removed": "packages were removed from a shared environment",
    "env.change-failed": "a change to a shared environment failed; it was left as it was",
    "audit.exported": "an administrator exported the audit log as CSV",
    "audit.dropped": "events the audit log could not keep up with and lost (see the portal's log)",
}


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: an account name and a client address, or the command line."""

    name: str
    address: str = ""

    @classmethod
    def of_request(cls, name: str, request: Any) -> Actor:
        """``name`` acting through a Starlette request: its client's address (after the trusted proxy's)."""
        return cls(name, client_address(request))


def client_address(request: Any) -> str:
    """A Starlette request's client address, "unknown" without one."""
    return request.client.host if request.client else "unknown"


def cli_actor() -> Actor:
    """The operator at the command line: ``cli:<their system user>``, from this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", "local")


SYSTEM = Actor("system", "local")  # the appliance itself (bootstrap, pruning)


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    target: str = ""
    address: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target": self.target, "address": self.address, "detail": dict(self.detail)}

    def row(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "action": self.action, "target": self.target,
                "address": self.address, "detail": dict(self.detail)}


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """One line of at most ``limit`` characters: control and format characters (newlines, bidi
    overrides, NUL, which PostgreSQL refuses) become U+FFFD, so a value cannot forge a line in a log
    or a CSV file."""
    text = str(value)[: limit + 1]
    cleaned = "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch for ch in text)
    return cleaned[:limit - 1] + "…" if len(cleaned) > limit else cleaned


def clean_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``detail`` as plain JSON (what JSON cannot hold becomes its text), at most MAX_DETAIL_BYTES."""
    if not detail:
        return {}
    encoded = json.dumps({str(key): value for key, value in detail.items()}, default=str, ensure_ascii=True)
    encoded = encoded.replace("\\u0000", "\\ufffd")  # PostgreSQL's jsonb refuses NUL
    if len(encoded) > MAX_DETAIL_BYTES:
        return {"truncated": encoded[:MAX_DETAIL_BYTES]}
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def check_action(action: str) -> str:
    if not ACTION_PATTERN.match(action):
        raise ValueError(f"audit action {action!r} must be dotted lowercase words, e.g. 'sign-in.failed'")
    return action


def make_event(at: datetime, actor: Actor, action: str, target: object = "",
               detail: Mapping[str, Any] | None = None) -> Event:
    """An event ready to store; ValueError for an action name that is not one (a programming error)."""
    return Event(at=at, actor=clean_text(actor.name), action=check_action(action), target=clean_text(target),
                 address=clean_text(actor.address), detail=clean_detail(detail))
