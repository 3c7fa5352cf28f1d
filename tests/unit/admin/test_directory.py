"""People's page cursors: what a page ended on, for the next page's query; a forged or stale one is refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from appliance.identity.accounts import Account
from appliance.identity.directory import AccountQuery, decode_cursor, encode_cursor
from appliance.identity.errors import IdentityError

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
ADA = Account(id=42, subject="s", username="ada", display_name="Ada", email="", groups=(), is_admin=False,
              disabled=False, created_at=WHEN, last_login_at=None)


def test_a_cursor_carries_the_sort_value_and_the_id() -> None:
    assert decode_cursor(encode_cursor(ADA, "username"), "username") == ("ada", 42)
    assert decode_cursor(encode_cursor(ADA, "created"), "created") == (WHEN, 42)
    assert decode_cursor(encode_cursor(ADA, "last_login"), "last_login") == (None, 42)  # never signed in


@pytest.mark.parametrize("cursor", ["", "not-base64!", "WyJ1c2VybmFtZSIsICJhZGEiXQ", "bnVsbA"])
def test_a_broken_cursor_or_one_of_another_sort_is_refused(cursor: str) -> None:
    with pytest.raises(IdentityError, match="start from the first page"):
        decode_cursor(cursor or encode_cursor(ADA, "name"), "username")


@pytest.mark.parametrize(("query", "says"), [(AccountQuery(sort="password"), "cannot sort by"),
                                             (AccountQuery(state="gone"), "unknown state"),
                                             (AccountQuery(limit=0), "1 to 200")])
def test_a_query_is_checked_before_it_runs(query: AccountQuery, says: str) -> None:
    with pytest.raises(IdentityError, match=says):
        query.check()
