from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.audit.errors import BadFilter
from appliance.audit.filters import decode_cursor, encode_cursor, parse_filters, parse_time
from appliance.db.like import contains_pattern

NOW = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("given", "expected"), [
    ("30m", NOW - timedelta(minutes=30)), ("12h", NOW - timedelta(hours=12)), ("7d", NOW - timedelta(days=7)),
    ("2w", NOW - timedelta(weeks=2)), ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
    ("2026-11-30T12:00:00Z", datetime(2026, 11, 30, 12, tzinfo=timezone.utc)),
    ("2026-11-30T14:00+01:00", datetime(2026, 11, 30, 13, tzinfo=timezone.utc)),
])
def test_since_reads_an_age_or_a_moment(given: str, expected: datetime) -> None:
    assert parse_time(given, NOW) == expected


def test_an_unreadable_time_says_what_it_takes() -> None:
    with pytest.raises(BadFilter, match=r"since = 'yesterday': give an age such as 30m"):
        parse_time("yesterday", NOW)


def test_empty_filters_are_not_given_and_texts_are_trimmed() -> None:
    filters = parse_filters({"since": "", "actor": "  ada ", "action": "sign-in", "q": "", "until": None}, NOW)
    assert (filters.since, filters.actor, filters.action, filters.text, filters.until) == (
        None, "ada", "sign-in", None, None)
    assert filters.to_query() == {"actor": "ada", "action": "sign-in"}


def test_a_search_takes_percent_and_underscore_literally() -> None:
    assert contains_pattern(r"50%_a\b") == r"%50\%\_a\\b%"


def test_a_cursor_comes_back_as_it_was_given_and_a_forged_one_is_refused() -> None:
    at = datetime(2026, 11, 30, 12, 59, 58, 123456, tzinfo=timezone.utc)
    assert decode_cursor(encode_cursor(at, 42)) == (at, 42)
    with pytest.raises(BadFilter, match="not one the log gave"):
        decode_cursor("2026_x")
