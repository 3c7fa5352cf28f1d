"""The first administrator's generated password, kept in <home>/secrets (0600) until changed."""

from __future__ import annotations

import os

from appliance.home import Home

INITIAL_ADMIN_FILE = "initial-admin-password"


def write_initial_admin(home: Home, username: str, password: str) -> str:
    path = home.secrets_dir / INITIAL_ADMIN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{username}\n{password}\n")
    return str(path)


def read_initial_admin(home: Home) -> tuple[str, str] | None:
    """The first admin's name and generated password, while it has not been changed."""
    try:
        username, password = (home.secrets_dir / INITIAL_ADMIN_FILE).read_text().split()[:2]
    except (FileNotFoundError, ValueError):
        return None
    return username, password


def forget_initial_admin(home: Home, username: str) -> None:
    """That admin chose a password: the generated one is no longer kept."""
    found = read_initial_admin(home)
    if found and found[0] == username:
        (home.secrets_dir / INITIAL_ADMIN_FILE).unlink(missing_ok=True)
