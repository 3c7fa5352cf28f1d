"""What the log is asked for: filters read from the command line or a query string, and page cursors.

Pure functions: no database here (store.py turns a ``Filters`` into SQL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from appliance.audit.errors import BadFilter

AGO = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TIME_FORMS = "an age such as 30m, 12h, 7d or 2w, or a date or time such as 2026-11-30 or 2026-11-30T14:00"
MAX_FILTER = 200  # characters of a filter's text


@dataclass(frozen=True)
class Filters:
    """Each given filter narrows the log; ``action`` matches the name and its dotted children
    ("sign-in" finds sign-in.failed too); ``text`` is searched in actor, action, target, address and
    detail, case-insensitively."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    text: str | None = None

    def to_query(self) -> dict[str, str]:
        """The query string that asks for these filters again (the page's links, the CSV link)."""
        found = {"since": self.since.isoformat() if self.since else None,
                 "until": self.until.isoformat() if self.until else None,
                 "actor": self.actor, "action": self.action, "target": self.target, "q": self.text}
        return {key: value for key, value in found.items() if value}


def parse_time(value: str, now: datetime, what: str = "since") -> datetime:
    """An age before ``now`` ("7d") or an ISO date or time (UTC unless it says otherwise)."""
    value = value.strip()
    match = AGO.match(value.lower())
    if match:
        return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(f"{what} = {value[:40]!r}: give {TIME_FORMS}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:MAX_FILTER] or None


def parse_filters(given: Mapping[str, str | None], now: datetime) -> Filters:
    """Filters from ``since``, ``until``, ``actor``, ``action``, ``target`` and ``q`` (empty means not given)."""
    since, until = (_text(given.get(key)) for key in ("since", "until"))
    return Filters(since=parse_time(since, now) if since else None,
                   until=parse_time(until, now, "until") if until else None,
                   actor=_text(given.get("actor")), action=_text(given.get("action")),
                   target=_text(given.get("target")), text=_text(given.get("q")))


def encode_cursor(at: datetime, event_id: int) -> str:
    """Where the next (older) page starts: after the event at ``at`` with ``event_id``."""
    return f"{at.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%S.%f')}_{event_id}"


def decode_cursor(value: str) -> tuple[datetime, int]:
    moment, _, event_id = value.partition("_")
    try:
        at = datetime.strptime(moment, "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
        return at, int(event_id)
    except ValueError:
        raise BadFilter(f"the page cursor {value[:60]!r} is not one the log gave; start from the first page.") from None
