"""`appliance logs`: the tail of one or more logs, and following them as they grow.

A log is named for its origin: a child (``portal``, ``hub-1`` …), the ``supervisor``, or a member's server
(``member:<name>``, written by the local spawner). A member controls what their server prints, so each of
their lines is shown after its origin, even alone: a line cannot pass for the appliance's own.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from appliance.home import Home
from appliance.supervisor.logs import tail

MEMBER = "member:"


def known_logs(home: Home) -> list[str]:
    children = sorted(path.stem for path in home.logs_dir.glob("*.log"))
    return children + sorted(MEMBER + path.stem for path in home.member_logs_dir.glob("*.log"))


def log_path(home: Home, name: str) -> Path:
    if name.startswith(MEMBER):
        return home.member_logs_dir / f"{name.removeprefix(MEMBER)}.log"
    return home.log_file(name)


def _prefix(name: str, names: list[str]) -> str | None:
    """What each line of log ``name`` is shown after, if anything."""
    return name if len(names) > 1 or name.startswith(MEMBER) else None


def print_tail(home: Home, names: list[str], lines: int) -> None:
    for name in names:
        if len(names) > 1:
            click.secho(f"==> {name} <==", bold=True)
        prefix = name if name.startswith(MEMBER) else None  # under its header, but a member could forge one
        for line in tail(log_path(home, name), lines):
            click.echo(_line(prefix, line))


def follow_logs(home: Home, names: list[str], poll_s: float = 0.25) -> None:
    """Print lines appended to the logs until interrupted; survives rotation."""
    positions: dict[str, tuple[int, int]] = {}  # name -> (inode, offset)
    for name in names:
        path = log_path(home, name)
        if path.exists():
            st = path.stat()
            positions[name] = (st.st_ino, st.st_size)
    while True:
        for name in names:
            positions[name] = _print_new(log_path(home, name), _prefix(name, names), positions.get(name))
        time.sleep(poll_s)


def _line(prefix: str | None, line: str) -> str:
    return f"{prefix:>10} | {line}" if prefix else line


def _print_new(path: Path, prefix: str | None, position: tuple[int, int] | None) -> tuple[int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return position or (0, 0)
    inode, offset = position or (st.st_ino, 0)
    if inode != st.st_ino or st.st_size < offset:  # rotated or truncated: read the new file from the start
        inode, offset = st.st_ino, 0
    if st.st_size == offset:
        return inode, offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data.rfind(b"\n") + 1
    for line in data[:complete].decode("utf-8", "replace").splitlines():
        click.echo(_line(prefix, line))
    return inode, offset + complete


__all__ = ["follow_logs", "known_logs", "log_path", "print_tail"]
