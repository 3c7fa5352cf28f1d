"""gallery/visibility.py: the one predicate "may viewer V see publication P", in Python and its SQL text."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from appliance.gallery.visibility import (
    ANONYMOUS,
    Access,
    Audience,
    Viewer,
    access,
    check_visibility,
    may_see,
    visible_clause,
    visible_sql,
)

ALICE = Viewer("alice", frozenset({"physics"}))
BOB = Viewer("bob", frozenset({"chemistry"}))
ADMIN = Viewer("root", is_admin=True)


def test_lab_publications_are_seen_by_every_member_and_by_no_one_signed_out() -> None:
    lab = Audience("alice", "lab")
    assert may_see(BOB, lab) and may_see(BOB, lab, listed=True)
    assert access(ANONYMOUS, lab) is Access.NOT_FOUND


def test_group_publications_are_seen_by_the_group_the_author_and_admins_only() -> None:
    physics = Audience("alice", "group", "physics")
    assert not may_see(BOB, physics) and not may_see(BOB, physics, listed=True)
    assert may_see(Viewer("carol", frozenset({"physics"})), physics, listed=True)
    assert may_see(Viewer("alice"), physics)  # the author left the group: still theirs
    assert may_see(ADMIN, physics, listed=True)


def test_unlisted_publications_are_reached_by_their_link_and_never_listed_even_for_admins() -> None:
    unlisted = Audience("alice", "unlisted")
    assert may_see(BOB, unlisted)
    assert not may_see(BOB, unlisted, listed=True) and not may_see(ADMIN, unlisted, listed=True)
    assert not may_see(ALICE, unlisted, listed=True)


def test_hidden_publications_are_seen_by_their_author_and_admins_and_are_404_to_others() -> None:
    hidden = Audience("alice", "lab", hidden=True)
    assert access(BOB, hidden) is Access.NOT_FOUND
    assert may_see(ALICE, hidden) and may_see(ADMIN, hidden)


def test_unpublished_publications_are_gone_for_everyone_their_author_and_admins_included() -> None:
    gone = Audience("alice", "lab", unpublished=True)
    assert {access(viewer, gone) for viewer in (ALICE, BOB, ADMIN, ANONYMOUS)} == {Access.GONE}


def test_the_sql_form_names_its_parameters_and_keeps_admins_and_anonymous_cheap() -> None:
    sql, params = visible_sql(BOB, listed=True, alias="pub")
    assert "pub.unpublished_at IS NULL" in sql and "pub.visibility <> 'unlisted'" in sql
    assert params == {"gallery_viewer": "bob", "gallery_viewer_groups": ["chemistry"]}
    assert visible_sql(ADMIN) == ("p.unpublished_at IS NULL", {})
    assert visible_sql(ANONYMOUS) == ("false", {})
    with pytest.raises(ValueError):
        visible_sql(BOB, alias="p; DROP TABLE x")


def test_the_sqlalchemy_form_binds_the_same_parameters() -> None:
    compiled = visible_clause(BOB).compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert set(compiled.params) == {"gallery_viewer", "gallery_viewer_groups"}
    assert "%(gallery_viewer_groups)s" in str(compiled)


def test_a_publish_choice_of_visibility_is_checked_against_the_members_groups() -> None:
    assert check_visibility("lab", ()) == ("lab", None)
    assert check_visibility("unlisted", ()) == ("unlisted", None)
    assert check_visibility("group:physics", ["physics"]) == ("group", "physics")
    with pytest.raises(PermissionError, match="not in the group 'chemistry'"):
        check_visibility("group:chemistry", ["physics"])
    for bad in ("everyone", "group:", "lab:x", ""):
        with pytest.raises(ValueError, match="is not one of"):
            check_visibility(bad, ["physics"])
