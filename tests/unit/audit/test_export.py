from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from appliance.audit.events import Actor, make_event
from appliance.audit.export import csv_lines

AT = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)


def test_csv_has_a_header_and_quotes_what_needs_it() -> None:
    event = make_event(AT, Actor("ada", "10.0.0.7"), "gallery.hidden", target="abc",
                       detail={"reason": 'spam, "ads"'})
    text = "".join(csv_lines([event]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["at", "actor", "action", "target", "address", "detail"]
    assert rows[1] == ["2026-11-30T13:00:00+00:00", "ada", "gallery.hidden", "abc", "10.0.0.7",
                       '{"reason": "spam, \\"ads\\""}']
    assert text.endswith("\r\n")


def test_a_typed_formula_reaches_the_spreadsheet_as_text() -> None:
    for typed in ("=HYPERLINK(\"http://evil\")", "+1", "-2+3", "@SUM(A1)"):
        event = make_event(AT, Actor(typed, "10.0.0.7"), "sign-in.failed", target=typed)
        row = list(csv.reader(io.StringIO("".join(csv_lines([event])))))[1]
        assert row[1] == "'" + typed and row[3] == "'" + typed
