from __future__ import annotations

from datetime import datetime, timezone

import pytest

from appliance.audit.events import MAX_DETAIL_BYTES, MAX_TEXT, Actor, clean_detail, clean_text, make_event

AT = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)


def test_a_typed_name_cannot_forge_a_line_or_hide_behind_bidi_controls() -> None:
    assert clean_text("eve\nadmin sign-in\r\x00\u202e") == "eve\ufffdadmin sign-in\ufffd\ufffd\ufffd"


def test_long_texts_are_cut_and_marked() -> None:
    cut = clean_text("x" * 10_000)
    assert len(cut) == MAX_TEXT and cut.endswith("…")
    assert clean_text("x" * MAX_TEXT) == "x" * MAX_TEXT


def test_detail_becomes_plain_bounded_json() -> None:
    assert clean_detail({"when": AT, "n": 3, "nul": "a\x00b"}) == {"when": str(AT), "n": 3, "nul": "a\ufffdb"}
    assert clean_detail(None) == {}
    big = clean_detail({"blob": "y" * (MAX_DETAIL_BYTES * 2)})
    assert list(big) == ["truncated"] and len(big["truncated"]) == MAX_DETAIL_BYTES


def test_an_event_carries_who_from_where_what_and_to_what() -> None:
    event = make_event(AT, Actor("ada", "10.0.0.7"), "sign-in.failed", target="ada", detail={"reason": "password"})
    assert (event.actor, event.address, event.action, event.target) == ("ada", "10.0.0.7", "sign-in.failed", "ada")
    assert event.to_json()["at"] == "2026-11-30T13:00:00+00:00"


@pytest.mark.parametrize("action", ["", "Sign-In", "sign in", "sign-in.", ".x", "a;drop"])
def test_an_action_that_is_not_a_dotted_name_is_a_programming_error(action: str) -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        make_event(AT, Actor("ada"), action)
