"""Importing people from CSV: read and check every row first (the preview), then create the good ones.

The file has a header row naming its columns: ``username`` (required), and any of ``name``, ``email``,
``groups`` (separated by ``;`` or spaces) and ``admin`` (yes/no, true/false, 1/0). Each row is checked on
its own, and a bad row is reported by its line with what is wrong; it never stops the others.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.admin.errors import AdminError
from appliance.admin.people import Access, NewPerson, People, check_how
from appliance.errors import ApplianceError
from appliance.identity.accounts import check_groups, normalize_username

COLUMNS = ("username", "name", "email", "groups", "admin")
MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
YES, NO = ("yes", "y", "true", "1", "admin"), ("", "no", "n", "false", "0")
EXAMPLE = "username,name,email,groups,admin\nada,Ada Lovelace,ada@example.org,physics;teaching,no"


@dataclass(frozen=True)
class ImportRow:
    line: int  # in the file, the header being line 1
    username: str
    person: NewPerson | None  # None when the row is bad
    error: str | None = None
    access: Access | None = None  # once created

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "username": self.username, "ok": self.error is None, "error": self.error,
                **({"person": self.access.to_json()} if self.access else {})}


@dataclass(frozen=True)
class ImportReport:
    rows: Sequence[ImportRow]
    applied: bool  # False for a preview

    @property
    def good(self) -> int:
        return sum(1 for row in self.rows if row.error is None)

    @property
    def bad(self) -> int:
        return len(self.rows) - self.good

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "good": self.good, "bad": self.bad,
                "rows": [row.to_json() for row in self.rows]}


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows with their line numbers; AdminError when the file as a whole cannot be read."""
    if len(text.encode()) > MAX_BYTES:
        raise AdminError(f"the file is larger than {MAX_BYTES // 1024} KB; split it into several imports.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise AdminError(f"the file is not CSV ({error}). It starts with a header row, e.g.\n{EXAMPLE}") from None
    unknown = [name for name in header if name not in COLUMNS]
    if "username" not in header or unknown:
        raise AdminError(f"the header row must name a username column and only these: {', '.join(COLUMNS)}"
                         + (f" (not {', '.join(map(repr, unknown))})" if unknown else "") + f"; e.g.\n{EXAMPLE}")
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            if len(rows) >= MAX_ROWS:
                raise AdminError(f"the file has more than {MAX_ROWS} people; split it into several imports.")
            values = {key: (value or "").strip() for key, value in record.items() if isinstance(key, str)}
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as error:
        raise AdminError(f"line {reader.line_num} is not valid CSV: {error}.") from None
    return rows


def check_row(values: dict[str, str], taken: set[str], seen: set[str]) -> NewPerson:
    """The row as a person, or AdminError naming what is wrong with it."""
    username = normalize_username(values.get("username", ""))
    if username in taken:
        raise AdminError(f"an account named {username!r} already exists.")
    if username in seen:
        raise AdminError(f"{username!r} is on an earlier line of this file too.")
    email = values.get("email", "")
    if email and not EMAIL.match(email):
        raise AdminError(f"{email!r} is not an email address.")
    admin = values.get("admin", "").lower()
    if admin not in YES + NO:
        raise AdminError(f"admin is {values['admin']!r}: write yes or no.")
    groups = check_groups(part for part in re.split(r"[;\s]+", values.get("groups", "")) if part)
    return NewPerson(username, values.get("name", ""), email, groups, admin in YES)


def plan(people: People, text: str) -> ImportReport:
    """Every row checked, nothing written."""
    rows = read_rows(text)
    taken = people.directory.existing(candidate(values) for _, values in rows)
    seen: set[str] = set()
    found = []
    for line, values in rows:
        try:
            person = check_row(values, taken, seen)
        except ApplianceError as error:
            found.append(ImportRow(line, values.get("username", ""), None, error.message))
            continue
        seen.add(person.username)
        found.append(ImportRow(line, person.username, person))
    return ImportReport(found, applied=False)


def apply(people: People, actor: Any, text: str, how: str = "link") -> ImportReport:
    """Create every good row (each gets a password or a sign-up link); the bad ones are reported."""
    check_how(how)
    found = []
    for row in plan(people, text).rows:
        if row.person is None:
            found.append(row)
            continue
        try:
            found.append(ImportRow(row.line, row.username, row.person, access=people.create(actor, row.person, how)))
        except ApplianceError as error:  # taken since the check, or refused by identity
            found.append(ImportRow(row.line, row.username, None, error.message))
    return ImportReport(found, applied=True)


def candidate(values: dict[str, str]) -> str:
    try:
        return normalize_username(values.get("username", ""))
    except ApplianceError:
        return ""
