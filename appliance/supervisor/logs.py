"""Child output to size-rotated log files: <name>.log, <name>.log.1 … <name>.log.N.

Logs are the appliance's alone (members must not read each other's file names and activity): every
log file is created with mode 0600 and one left wider by an earlier version is tightened when it is
opened. Run as a script, this module copies its standard input into one such log (a member's server
output, see ``appliance.hub.app.LocalSpawner``); it then imports nothing but the standard library, so
that ``python -I -S logs.py`` costs a few megabytes per member.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOG_MODE = 0o600


def open_private(path: Path) -> int:
    """A descriptor appending to ``path``, made with mode 0600 or tightened to it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, LOG_MODE)
    os.fchmod(descriptor, LOG_MODE)
    return descriptor


class RotatingLog:
    """Append-only byte sink that rotates at ``max_bytes`` and keeps ``backups`` old files."""

    def __init__(self, path: Path, max_bytes: int, backups: int):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._handle = os.fdopen(open_private(path), "ab")
        self._size = self._handle.tell()

    def write(self, data: bytes) -> None:
        if self.max_bytes > 0 and self._size + len(data) > self.max_bytes and self._size > 0:
            self._rotate()
        self._handle.write(data)
        self._handle.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._handle.close()
        if self.backups > 0:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._handle = os.fdopen(open_private(self.path), "ab")
        self._size = 0

    def close(self) -> None:
        self._handle.close()


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file (empty if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024 * max(1, lines // 200)))
            data = handle.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]


def copy_input(path: Path, max_bytes: int, backups: int) -> None:
    """Copy standard input into the rotated log ``path`` until its writers close it."""
    log = RotatingLog(path, max_bytes, backups)
    try:
        while data := os.read(0, 65536):
            log.write(data)
    finally:
        log.close()


if __name__ == "__main__":
    copy_input(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
