"""Finding accounts among many: search, sort, filters and keyset pages (the admin console's People).

A page is found by where the last one ended (the sort key and id of its last row, in an opaque cursor),
never by an offset, so page 2,000 costs what page 1 does. Every sort has an index on (key, id), and
the search (ILIKE) a GIN index of trigrams (pg_trgm) over username, name and email, so a search is an
index look-up at any number of accounts (migration 0010; tests/integration/test_admin_people.py measures
it at 100,000).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, any_, func, literal, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from appliance.db.like import contains_pattern
from appliance.identity.accounts import _COLUMNS as ACCOUNT_COLUMNS
from appliance.identity.accounts import Account
from appliance.identity.errors import IdentityError
from appliance.identity.tables import accounts, group_members

SEARCHED = (accounts.c.username, accounts.c.display_name, accounts.c.email)
SORT_KEYS: dict[str, ColumnElement[Any]] = {
    "username": accounts.c.username,
    "name": accounts.c.display_name,
    "created": accounts.c.created_at,
    "last_login": accounts.c.last_login_at,  # the one that may be NULL ("never"): see AccountDirectory.page
}
STATES = ("all", "active", "disabled", "admins")
MAX_LIMIT = 200
READ_WHOLE = 1000  # a search matching at most this many accounts is read whole by its trigram indexes and sorted
TRIGRAM = re.compile(r"[^\W_]{3}")  # pg_trgm indexes runs of letters and digits: a search needs 3 in a row
BITMAP_SCANS_ONLY = "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"
PLANNER_DEFAULTS = "SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = on"


@dataclass(frozen=True)
class AccountQuery:
    text: str = ""  # a part of the username, name or email, any case
    sort: str = "username"  # one of SORT_KEYS
    descending: bool = False
    state: str = "all"  # one of STATES
    group: str = ""  # only members of this group
    after: str = ""  # the cursor of the page before (AccountPage.next_cursor)
    limit: int = 50

    def check(self) -> AccountQuery:
        if self.sort not in SORT_KEYS:
            raise IdentityError(f"cannot sort by {self.sort!r}: use one of {', '.join(SORT_KEYS)}.")
        if self.state not in STATES:
            raise IdentityError(f"unknown state {self.state!r}: use one of {', '.join(STATES)}.")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise IdentityError(f"a page holds 1 to {MAX_LIMIT} accounts, not {self.limit}.")
        return self


@dataclass(frozen=True)
class AccountPage:
    accounts: Sequence[Account]
    next_cursor: str | None  # None on the last page


def encode_cursor(account: Account, sort: str) -> str:
    value = {"username": account.username, "name": account.display_name, "created": account.created_at,
             "last_login": account.last_login_at}[sort]
    data = [sort, value.isoformat() if isinstance(value, datetime) else value, account.id]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The sort key's value (None: a "never signed in" row) and the id where the page before ended."""
    try:
        kind, value, account_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind != sort or not isinstance(account_id, int):
            raise ValueError(kind)
        if value is None or sort in ("username", "name"):
            return value if value is None else str(value), account_id
        return datetime.fromisoformat(value), account_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise IdentityError("that page link is broken or belongs to another sort order; start from the "
                            "first page.") from None


class AccountDirectory:
    def __init__(self, engine: Engine):
        self.engine = engine

    def page(self, query: AccountQuery) -> AccountPage:
        """One page in sort order. Rows with no sort value (never signed in) come after the others
        ascending and before them descending, as the (key, id) index holds them; each part is read by
        its own index scan (one OR across both would make the planner scan from the start)."""
        query = query.check()
        key = SORT_KEYS[query.sort]
        value, after_id = decode_cursor(query.after, query.sort) if query.after else (None, None)
        parts = [self._valued, self._unvalued]
        if query.descending:
            parts.reverse()
        found: list[Account] = []
        with self.engine.connect() as connection:
            if TRIGRAM.search(query.text):
                filters = self._few_matches(connection, query) or self._filters(query)
            else:  # reads outside a transaction: no BEGIN and ROLLBACK round trips
                filters = self._filters(query)
                connection.execution_options(isolation_level="AUTOCOMMIT")
            for part in parts:
                statement = part(query, key, value, after_id)
                if statement is None:
                    continue
                rows = connection.execute(statement.where(*filters).limit(query.limit + 1 - len(found))).all()
                found += [Account.from_row(row) for row in rows]
                if len(found) > query.limit:
                    break
        more = len(found) > query.limit
        found = found[:query.limit]
        return AccountPage(found, encode_cursor(found[-1], query.sort) if more else None)

    def _few_matches(self, connection: Connection, query: AccountQuery) -> list[ColumnElement[bool]] | None:
        """For a search the trigram indexes can look up (TRIGRAM) that matches at most READ_WHOLE accounts: the
        filter naming them by id, with the planner held to bitmap scans for the rest of the transaction (the
        page is then sorted from those few). None when it matches more, which keeps the planner's choice.

        The planner guesses how many accounts an ILIKE matches from the 100 values it sampled per
        column, and reckons them spread evenly in the sort order: for 'Hopper 91' it guessed 1,030 of
        100,000 and walked the username index from the start, 91,000 rows and 56 ms, to find 51
        matches that all sit near its end. Looked up by the trigram indexes, they take 1-3 ms."""
        connection.exec_driver_sql(BITMAP_SCANS_ONLY)
        ids = connection.execute(select(accounts.c.id).where(*self._filters(query))
                                 .limit(READ_WHOLE + 1)).scalars().all()
        if len(ids) > READ_WHOLE:  # many: the planner's walk along the sort order finds a page soon
            connection.exec_driver_sql(PLANNER_DEFAULTS)
            return None
        return [accounts.c.id.in_(ids)]

    @staticmethod
    def _valued(query: AccountQuery, key: ColumnElement[Any], value: Any, after_id: int | None) -> Select[Any] | None:
        """The rows with a sort value after the cursor; none left when the cursor is in the NULL rows
        and those come last."""
        if after_id is not None and value is None and not query.descending:
            return None
        statement = select(*ACCOUNT_COLUMNS).where(key.is_not(None))
        if after_id is not None and value is not None:
            row, mark = tuple_(key, accounts.c.id), tuple_(literal(value), literal(after_id))
            statement = statement.where(row < mark if query.descending else row > mark)
        return statement.order_by(*((key.desc(), accounts.c.id.desc()) if query.descending else (key, accounts.c.id)))

    @staticmethod
    def _unvalued(query: AccountQuery, key: ColumnElement[Any], value: Any, after_id: int | None) -> Select[Any] | None:
        """The rows without a sort value (only last_login has them), by id."""
        if query.sort != "last_login" or (after_id is not None and value is not None and query.descending):
            return None
        statement = select(*ACCOUNT_COLUMNS).where(key.is_(None))
        if after_id is not None and value is None:
            statement = statement.where(accounts.c.id < after_id if query.descending else accounts.c.id > after_id)
        return statement.order_by(accounts.c.id.desc() if query.descending else accounts.c.id)

    def count(self, query: AccountQuery) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(accounts)
                                          .where(*self._filters(query.check()))).scalar_one())

    @staticmethod
    def _filters(query: AccountQuery) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        text = query.text.strip()
        if text:
            pattern = contains_pattern(text)
            found.append(or_(*(column.ilike(pattern, escape="\\") for column in SEARCHED)))
        if query.state == "active":
            found.append(~accounts.c.disabled)
        elif query.state == "disabled":
            found.append(accounts.c.disabled)
        elif query.state == "admins":
            found.append(accounts.c.is_admin)
        if query.group:
            found.append(literal(query.group) == any_(accounts.c.groups))  # ARRAY.any() is deprecated (2.1)
        return found

    def existing(self, usernames: Iterable[str]) -> set[str]:
        """Which of these (normalized) usernames are taken."""
        names = list(set(usernames))
        if not names:
            return set()
        with self.engine.connect() as connection:
            return set(connection.execute(select(accounts.c.username).where(accounts.c.username.in_(names))).scalars())

    def groups(self) -> list[tuple[str, int]]:
        """Every group in use, with how many accounts are in it (kept by triggers: migration 0012)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            rows = connection.execute(select(group_members.c.name, group_members.c.members)
                                      .order_by(group_members.c.name)).all()
        return [(row.name, int(row.members)) for row in rows]
