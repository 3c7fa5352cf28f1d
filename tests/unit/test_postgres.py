"""Finding PostgreSQL's binaries, and URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.postgres import PostgresError, PostgresSettings, find_bin_dir, sqlalchemy_url


def test_no_binaries_anywhere_names_the_package() -> None:
    with pytest.raises(PostgresError) as error:
        find_bin_dir(PostgresSettings(), candidates=[Path("/nonexistent")])
    assert "PostgreSQL server binaries (initdb, postgres) were not found" in str(error.value)
    assert "apt-get install postgresql" in str(error.value)


def test_first_candidate_with_both_binaries_wins(tmp_path: Path) -> None:
    half, full = tmp_path / "half", tmp_path / "full"
    for directory, names in ((half, ["initdb"]), (full, ["initdb", "postgres"])):
        directory.mkdir()
        for name in names:
            (directory / name).touch()
    assert find_bin_dir(PostgresSettings(), candidates=[half, full]) == full


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"])
def test_external_urls_use_psycopg3(scheme: str) -> None:
    assert sqlalchemy_url(f"{scheme}://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
