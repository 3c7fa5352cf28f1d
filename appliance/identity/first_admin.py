"""The first administrator's generated password, kept in <home>/secrets (0600) until changed."""

from __future__ import annotations

import os

from appliance.home import Home

INITIAL_ADMIN_FILE = "initial-admin-password"
FIRST_ADMIN = "admin"  # the first administrator's username


def write_initial_admin(home: Home, username: str, password: str) -> str:
    """The file holds the password alone, on one line: ``cat`` it and paste it into the sign-in form (the
    username is always ``FIRST_ADMIN``)."""
    path = home.secrets_dir / INITIAL_ADMIN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{password}\n")
    return str(path)


def read_initial_admin(home: Home) -> tuple[str, str] | None:
    """The first admin's name and generated password, while it has not been changed. An older version
    wrote the name on a line of its own before the password: that is read too."""
    try:
        words = (home.secrets_dir / INITIAL_ADMIN_FILE).read_text().split()
    except FileNotFoundError:
        return None
    if len(words) == 1:
        return FIRST_ADMIN, words[0]
    if len(words) == 2:
        return words[0], words[1]
    return None


def forget_initial_admin(home: Home, username: str) -> None:
    """That admin chose a password: the generated one is no longer kept."""
    found = read_initial_admin(home)
    if found and found[0] == username:
        (home.secrets_dir / INITIAL_ADMIN_FILE).unlink(missing_ok=True)
