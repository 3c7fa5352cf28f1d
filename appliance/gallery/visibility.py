"""Who may see a publication: THE one predicate, in Python and in SQL. Every page, API and query of the
gallery asks it here, and nowhere else.

The rules, in the order they are applied:

- an **unpublished** publication is gone for everyone, its author and admins included: its URLs
  answer 410 (``Access.GONE``);
- no one who is not signed in sees anything (``ANONYMOUS``); a disabled member cannot sign in;
- an **admin** sees every other publication, hidden ones included;
- the **author** sees their own, hidden or not, whatever its visibility;
- a publication an admin **hid** is seen by no one else (404: its existence is not revealed);
- ``lab``: every member who may sign in; ``group``: the members of ``visible_group`` (identity's
  account groups); ``unlisted``: whoever has its slug URL.

Listings and search (``listed=True``) also leave out ``unlisted`` publications, for everyone: an
unlisted publication is reachable only through its link. (An author's own list, "My publications",
is a query by author, not a listing.)

The SQL form is a fragment over the publications table (default alias ``p``) with psycopg's named
parameters; ``visible_clause`` gives the same for SQLAlchemy Core. tests/integration/test_gallery_publish.py
checks that the SQL and the Python forms agree on every combination.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import TextClause, text

VISIBILITIES = ("lab", "group", "unlisted")


class Access(Enum):
    """What a viewer gets at a publication's URLs."""

    VISIBLE = 200
    NOT_FOUND = 404  # hidden from this viewer, or not theirs to see: never reveal that it exists
    GONE = 410  # unpublished by its author


class Account(Protocol):
    """What the predicate needs of a member (identity's Account has it)."""

    @property
    def username(self) -> str: ...

    @property
    def groups(self) -> tuple[str, ...]: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in member with their groups and admin flag, or ``ANONYMOUS``."""

    username: str | None
    groups: frozenset[str] = frozenset()
    is_admin: bool = False

    @classmethod
    def of(cls, account: Account | None) -> Viewer:
        """The viewer for identity's account (a session's ``account``); None: ``ANONYMOUS``."""
        if account is None:
            return ANONYMOUS
        return cls(account.username, frozenset(account.groups), account.is_admin)


ANONYMOUS = Viewer(None)


@dataclass(frozen=True)
class Audience:
    """The columns of a publication the predicate reads (``Audience.from_row`` takes any row or object
    with attributes author, visibility, visible_group, hidden_at, unpublished_at)."""

    author: str
    visibility: str
    visible_group: str | None = None
    hidden: bool = False
    unpublished: bool = False

    @classmethod
    def from_row(cls, row: Any) -> Audience:
        return cls(row.author, row.visibility, row.visible_group, row.hidden_at is not None,
                   row.unpublished_at is not None)


def access(viewer: Viewer, publication: Audience, *, listed: bool = False) -> Access:
    """What ``viewer`` gets at ``publication`` (by its URL; ``listed``: in a listing or search)."""
    if publication.unpublished:
        return Access.GONE
    if viewer.username is None or (listed and publication.visibility == "unlisted"):
        return Access.NOT_FOUND
    if viewer.is_admin or publication.author == viewer.username:
        return Access.VISIBLE
    if publication.hidden:
        return Access.NOT_FOUND
    if publication.visibility in ("lab", "unlisted"):
        return Access.VISIBLE
    if publication.visibility == "group" and publication.visible_group in viewer.groups:
        return Access.VISIBLE
    return Access.NOT_FOUND


def may_see(viewer: Viewer, publication: Audience, *, listed: bool = False) -> bool:
    return access(viewer, publication, listed=listed) is Access.VISIBLE


_ALIAS = re.compile(r"^[a-z_][a-z0-9_]*$")


def visible_sql(viewer: Viewer, *, listed: bool = False, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """The predicate as a SQL boolean over ``gallery.publications AS <alias>``, with its parameters
    (psycopg's ``%(name)s`` style; names start with ``gallery_viewer``). Unpublished rows are false:
    to tell 410 from 404 for one publication, read it and ask ``access``."""
    if not _ALIAS.match(alias):
        raise ValueError(f"{alias!r} is not a table alias")
    p = alias
    if viewer.username is None:
        return "false", {}
    conditions = [f"{p}.unpublished_at IS NULL"]
    if listed:
        conditions.append(f"{p}.visibility <> 'unlisted'")
    params: dict[str, Any] = {}
    if not viewer.is_admin:
        params = {"gallery_viewer": viewer.username, "gallery_viewer_groups": sorted(viewer.groups)}
        conditions.append(
            f"({p}.author = %(gallery_viewer)s OR ({p}.hidden_at IS NULL AND ({p}.visibility IN ('lab', 'unlisted') "
            f"OR ({p}.visibility = 'group' AND {p}.visible_group = ANY(CAST(%(gallery_viewer_groups)s AS text[]))))))")
    return " AND ".join(conditions), params


def visible_clause(viewer: Viewer, *, listed: bool = False, alias: str = "publications") -> TextClause:
    """``visible_sql`` for SQLAlchemy Core's ``where()``, over ``gallery.publications`` (named ``alias``
    in the query)."""
    sql, params = visible_sql(viewer, listed=listed, alias=alias)
    return text(re.sub(r"%\((\w+)\)s", r":\1", sql)).bindparams(**params)


def check_visibility(choice: str, member_groups: Iterable[str]) -> tuple[str, str | None]:
    """A publish dialog's choice ("lab", "unlisted" or "group:<name>") as (visibility, visible_group);
    ValueError with what to send instead, PermissionError for a group the member is not in."""
    kind, _, group = choice.partition(":")
    if kind in ("lab", "unlisted") and not group:
        return kind, None
    if kind != "group" or not group:
        raise ValueError(f"visibility {choice[:80]!r} is not one of \"lab\", \"unlisted\" or \"group:<name>\".")
    if group not in set(member_groups):
        raise PermissionError(f"you are not in the group {group[:80]!r}, so you cannot publish to it; "
                              "your groups are listed at /api/gallery/v1/me.")
    return "group", group


def describe(visibility: str, visible_group: str | None) -> str:
    """The visibility as the publish API takes it back: "lab", "unlisted" or "group:<name>"."""
    return f"group:{visible_group}" if visibility == "group" else visibility
