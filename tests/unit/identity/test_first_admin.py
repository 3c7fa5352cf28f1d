"""The first administrator's password file: the password alone on one line, so that it pastes."""

from __future__ import annotations

from pathlib import Path

from appliance.home import Home
from appliance.identity.first_admin import FIRST_ADMIN, read_initial_admin, write_initial_admin


def test_the_file_holds_the_password_alone_on_one_line(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.secrets_dir.mkdir()
    path = Path(write_initial_admin(home, FIRST_ADMIN, "s3cret-Pass"))
    assert path.read_text() == "s3cret-Pass\n" and path.stat().st_mode & 0o777 == 0o600
    assert read_initial_admin(home) == (FIRST_ADMIN, "s3cret-Pass")


def test_an_older_two_line_file_is_still_read(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.secrets_dir.mkdir()
    (home.secrets_dir / "initial-admin-password").write_text("admin\nold-Pass\n")
    assert read_initial_admin(home) == ("admin", "old-Pass")
