"""Reading and checking an import's rows (no database: which names are taken is given)."""

from __future__ import annotations

import pytest

from appliance.admin.csv_import import check_row, read_rows
from appliance.admin.errors import AdminError
from appliance.errors import ApplianceError


def test_rows_keep_their_line_numbers_and_blank_lines_are_skipped() -> None:
    rows = read_rows("\ufeffUsername, Name ,email\nada,Ada Lovelace,ada@example.org\n\n,,\n\"bob\",\"Bob, Jr.\",\n")
    assert rows == [(2, {"username": "ada", "name": "Ada Lovelace", "email": "ada@example.org"}),
                    (5, {"username": "bob", "name": "Bob, Jr.", "email": ""})]


@pytest.mark.parametrize(("text", "says"), [
    ("name,email\nAda,a@b.c", "must name a username column"),
    ("username,role\nada,x", "(not 'role')"),
    ("", "must name a username column"),
])
def test_a_file_without_the_right_header_is_refused_with_an_example(text: str, says: str) -> None:
    with pytest.raises(AdminError) as refused:
        read_rows(text)
    assert says in refused.value.message and "username,name,email,groups,admin" in refused.value.message


@pytest.mark.parametrize(("values", "says"), [
    ({"username": "Grace Hopper"}, "is not a valid username"),
    ({"username": "ada"}, "already exists"),
    ({"username": "bob"}, "on an earlier line"),
    ({"username": "cy", "email": "not-an-address"}, "is not an email address"),
    ({"username": "cy", "admin": "maybe"}, "write yes or no"),
    ({"username": "cy", "groups": "ok;bad group!"}, "is not a valid group name"),
])
def test_each_bad_row_says_what_is_wrong(values: dict[str, str], says: str) -> None:
    with pytest.raises(ApplianceError) as refused:
        check_row(values, taken={"ada"}, seen={"bob"})
    assert says in refused.value.message


def test_a_good_row_becomes_a_person() -> None:
    person = check_row({"username": "Cy", "name": "Cy Young", "email": "cy@example.org", "groups": "b; a  b",
                        "admin": "Yes"}, taken=set(), seen=set())
    assert (person.username, person.display_name, person.groups, person.admin) == ("cy", "Cy Young", ("a", "b"), True)
