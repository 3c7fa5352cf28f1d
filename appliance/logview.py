"""`appliance logs`: the tail of one or more logs, following them as they grow, and searching them by time and
text (``--since``, ``--grep``).

A log is named for its origin: a child (``portal``, ``hub-1`` …), the ``supervisor``, or a member's server
(``member:<name>``, written by the local spawner). A member controls what their server prints, so each of
their lines is shown after its origin, even alone: a line cannot pass for the appliance's own.

A search reads the journal when systemd runs the appliance (its entries carry the component's name and the
home: journalctl does the work), the files otherwise: every rotated file, oldest first, a line's time read
from the timestamp it starts with (a line without one, a traceback's, has the time of the line before).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import click

from appliance.errors import ApplianceError
from appliance.home import Home
from appliance.supervisor.logs import tail

# "2026-12-03 05:27:54", "[I 2026-12-03 05:27:54.142 …", "2026-12-03T05:27:54": the components' own stamps
STAMP = re.compile(r"^\W{0,2}(?:[A-Z] )?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")

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


def search(home: Home, names: list[str], since: datetime | None, pattern: str | None, lines: int) -> list[str]:
    """The last ``lines`` lines of the logs ``names`` written since ``since`` that match ``pattern`` (a regular
    expression, case-insensitive), each after its log's name and time."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE) if pattern else None
    except re.error as error:
        raise ApplianceError(f"--grep {pattern!r} is not a regular expression ({error}).") from None
    if _in_journal(home):
        return _journal_search(home, names, since, pattern, lines)
    found = [f"{stamp:%Y-%m-%d %H:%M:%S} {name:>10} | {line}" for name in names
             for stamp, line in _dated_lines(log_path(home, name)) if (since is None or stamp >= since)
             and (compiled is None or compiled.search(line))]
    return sorted(found, key=lambda shown: shown[:19])[-lines:]  # by time, each log's lines in their order


def _dated_lines(path: Path) -> Iterator[tuple[datetime, str]]:
    """Each line of the log at ``path`` and its rotated files, oldest first, with its time (local time, as the
    components write it). A line without a stamp has the time of the line before; in a file with no stamp at
    all (a member's server's output), every line has the file's last change."""
    rotated = sorted(path.parent.glob(f"{path.name}.*"),
                     key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    stamp = datetime.fromtimestamp(0).astimezone()
    for file in [*rotated, path]:
        if not file.is_file():
            continue
        lines = file.read_text(errors="replace").splitlines()
        matches = [STAMP.match(line) for line in lines]
        if not any(matches):
            stamp = datetime.fromtimestamp(file.stat().st_mtime).astimezone()
        for line, match in zip(lines, matches, strict=True):
            stamp = (_parse_stamp(match) if match else None) or stamp
            yield stamp, line


def _parse_stamp(match: re.Match[str]) -> datetime | None:
    try:
        return datetime.fromisoformat(f"{match[1]} {match[2]}").astimezone()
    except ValueError:
        return None


def _in_journal(home: Home) -> bool:
    """Whether the journal has this home's entries (systemd runs the appliance)."""
    if shutil.which("journalctl") is None:
        return False
    found = subprocess.run(["journalctl", "-q", "--no-pager", "-o", "cat", "-n", "1", f"APPLIANCE_HOME={home.root}"],
                           capture_output=True, text=True, check=False, timeout=30)
    return found.returncode == 0 and bool(found.stdout.strip())


def _journal_search(home: Home, names: list[str], since: datetime | None, pattern: str | None,
                    lines: int) -> list[str]:
    argv = ["journalctl", "-q", "--no-pager", "-o", "json", "-n", str(lines), f"APPLIANCE_HOME={home.root}",
            *(f"APPLIANCE_COMPONENT={name}" for name in names)]  # one field given twice: either
    if since is not None:
        argv += ["--since", f"{since.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"]
    if pattern:
        argv += ["--grep", pattern, "--case-sensitive=false"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0 and result.stderr.strip():
        raise ApplianceError(f"journalctl could not search the logs: {result.stderr.strip()[-500:]}")
    shown = []
    for entry in map(json.loads, result.stdout.splitlines()):
        at = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6).astimezone()
        message = entry.get("MESSAGE")
        text = bytes(message).decode("utf-8", "replace") if isinstance(message, list) else str(message)
        shown.append(f"{at:%Y-%m-%d %H:%M:%S} {entry.get('APPLIANCE_COMPONENT', '?'):>10} | {text}")
    return shown


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


__all__ = ["follow_logs", "known_logs", "log_path", "print_tail", "search"]
