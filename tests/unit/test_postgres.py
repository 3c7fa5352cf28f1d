"""Finding PostgreSQL's binaries, and URLs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from appliance.errors import ConfigError
from appliance.postgres import PostgresError, PostgresSettings, find_bin_dir, sqlalchemy_url
from appliance.postgres.external import external_url


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


@pytest.mark.parametrize("url", ["postgresql://u:p@localhost/db", "postgresql://u:p@127.0.0.1:5433/db",
                                 "postgresql://u:p@/db?host=/run/postgresql"])
def test_a_server_on_this_machine_needs_no_tls(url: str) -> None:
    assert "sslmode" not in external_url(PostgresSettings(url=url))


def test_a_ca_file_makes_the_connection_verify_full(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    url = external_url(PostgresSettings(url="postgres://u:p@db.example.org/lab", ca_file=str(ca)))
    assert url == ("postgresql+psycopg://u:p@db.example.org/lab?sslmode=verify-full"
                   f"&sslrootcert={quote(str(ca), safe='')}")


@pytest.mark.parametrize(("url", "ca_file", "said"), [
    ("postgresql://u:p@db.example.org/lab", "", "postgres.url reaches db.example.org over the network, and nothing "
                                                "says how to check its certificate"),
    ("postgresql://u:p@db.example.org/lab?sslmode=disable", "CA", "postgres.ca_file is set, but postgres.url asks "
                                                                   "for sslmode=disable"),
    ("postgresql://u:p@db.example.org/lab", "/nonexistent/ca.pem", "postgres.ca_file = /nonexistent/ca.pem is not "
                                                                   "a file"),
])
def test_a_connection_that_would_verify_nothing_is_refused(url: str, ca_file: str, said: str, tmp_path: Path) -> None:
    if ca_file == "CA":
        ca_file = str(tmp_path / "ca.pem")
        Path(ca_file).touch()
    with pytest.raises(ConfigError) as error:
        external_url(PostgresSettings(url=url, ca_file=ca_file))
    assert said in str(error.value)


def test_an_explicit_sslmode_is_the_operators_choice() -> None:
    assert external_url(PostgresSettings(url="postgresql://u:p@db.example.org/lab?sslmode=require")).endswith(
        "?sslmode=require")
