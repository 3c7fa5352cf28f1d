"""`appliance logs`: the tail of one or more child logs, and following them as they grow."""

from __future__ import annotations

import time
from pathlib import Path

import click

from appliance.home import Home
from appliance.supervisor.logs import tail


def known_logs(home: Home) -> list[str]:
    return sorted(path.name[: -len(".log")] for path in home.logs_dir.glob("*.log"))


def print_tail(home: Home, names: list[str], lines: int) -> None:
    for name in names:
        if len(names) > 1:
            click.secho(f"==> {name} <==", bold=True)
        for line in tail(home.log_file(name), lines):
            click.echo(line)


def follow_logs(home: Home, names: list[str], poll_s: float = 0.25) -> None:
    """Print lines appended to the logs until interrupted; survives rotation."""
    positions: dict[str, tuple[int, int]] = {}  # name -> (inode, offset)
    for name in names:
        path = home.log_file(name)
        if path.exists():
            st = path.stat()
            positions[name] = (st.st_ino, st.st_size)
    prefix = len(names) > 1
    while True:
        for name in names:
            positions[name] = _print_new(home.log_file(name), name if prefix else None, positions.get(name))
        time.sleep(poll_s)


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
        click.echo(f"{prefix:>10} | {line}" if prefix else line)
    return inode, offset + complete


__all__ = ["follow_logs", "known_logs", "print_tail"]
