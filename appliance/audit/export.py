"""The log as CSV, for a spreadsheet: one header, one line per event, nothing a spreadsheet would run.

A member controls some of what is logged (the name typed at a failed sign-in), and spreadsheets run a
cell that starts with = + - @ (or a tab or carriage return) as a formula ("CSV injection"): such a cell
is written with a leading apostrophe, which shows the text as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from appliance.audit.events import Event

COLUMNS = ("at", "actor", "action", "target", "address", "detail")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(value) for value in values])
    return buffer.getvalue()


def event_cells(event: Event) -> list[str]:
    detail = json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True) if event.detail else ""
    return [event.at.isoformat(), event.actor, event.action, event.target, event.address, detail]


def csv_lines(events: Iterable[Event]) -> Iterator[str]:
    """The header, then each event (RFC 4180 lines: CRLF, quoted where needed)."""
    yield csv_line(COLUMNS)
    for event in events:
        yield csv_line(event_cells(event))
