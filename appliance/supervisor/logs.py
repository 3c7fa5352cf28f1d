"""Child output to size-rotated log files: <name>.log, <name>.log.1 … <name>.log.N."""

from __future__ import annotations

import os
from pathlib import Path


class RotatingLog:
    """Append-only byte sink that rotates at ``max_bytes`` and keeps ``backups`` old files."""

    def __init__(self, path: Path, max_bytes: int, backups: int):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._handle = open(path, "ab")  # noqa: SIM115 - closed by close()
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
        self._handle = open(self.path, "ab")  # noqa: SIM115
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
