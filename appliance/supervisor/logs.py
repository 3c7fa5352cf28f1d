"""Child output to size-rotated log files: <name>.log, <name>.log.1 … <name>.log.N, and, when systemd runs the
appliance, to the journal too, a line an entry with the fields that say whose it is (APPLIANCE_COMPONENT,
APPLIANCE_HUB, APPLIANCE_MEMBER, APPLIANCE_HOME): `journalctl APPLIANCE_COMPONENT=hub-1`, `appliance logs
--since … --grep …`. The files stay: the console's recent errors and `appliance doctor` read them, and they
outlive a volatile journal.

Logs are the appliance's alone (members must not read each other's file names and activity): every
log file is created with mode 0600 and one left wider by an earlier version is tightened when it is
opened. Run as a script, this module copies its standard input into one such log (a member's server
output, see ``appliance.hub.app.LocalSpawner``); it then imports nothing but the standard library, so
that ``python -I -S logs.py`` costs a few megabytes per member.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import sys
from collections.abc import Mapping
from pathlib import Path

LOG_MODE = 0o600
JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNAL_LINE_BYTES = 48 * 1024  # of one entry's message: a datagram has room for it, and journald keeps it whole
# the line of an error: Python's logging and uvicorn, tornado's "[E …]", PostgreSQL, the proxy
ERROR_PATTERN = (r"\b(ERROR|CRITICAL|FATAL|PANIC)\b|^\[[EC] |Traceback \(most recent call last\)|"
                 r"\[ConfigProxy\] error")
ERROR_LINE = re.compile(ERROR_PATTERN.encode())
ERROR, INFO = b"3", b"6"  # syslog priorities


def under_systemd(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether systemd runs this process with its output in the journal (the installed service)."""
    return bool(environ.get("JOURNAL_STREAM")) and os.path.exists(JOURNAL_SOCKET)


class JournalSink:
    """Sends each complete line written to it to the journal (its native protocol: one datagram an entry) with
    ``fields``; a line that cannot be sent is dropped (the file has it)."""

    def __init__(self, fields: Mapping[str, str], address: str = JOURNAL_SOCKET):
        self.fields = b"".join(_field(key, value.encode()) for key, value in fields.items())
        self.address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._partial = b""

    def write(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-JOURNAL_LINE_BYTES:]
        for line in lines:
            if line.strip():
                self.send(line)

    def send(self, line: bytes) -> None:
        line = line.rstrip(b"\r")[:JOURNAL_LINE_BYTES]
        priority = ERROR if ERROR_LINE.search(line) else INFO
        with contextlib.suppress(OSError):
            self._socket.sendto(self.fields + _field("PRIORITY", priority) + _field("MESSAGE", line), self.address)

    def close(self) -> None:
        if self._partial.strip():
            self.send(self._partial)
        self._socket.close()


def _field(key: str, value: bytes) -> bytes:
    if b"\n" in value:  # the protocol's binary form: the name, a newline, the length, the value
        return key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return key.encode() + b"=" + value + b"\n"


def journal_fields(home: Path, component: str, member: str = "", hub: str = "") -> dict[str, str]:
    """The fields of a component's entries; a member's server's are component ``member:<name>``, with their
    hub."""
    fields = {"SYSLOG_IDENTIFIER": f"appliance-{component}".replace(":", "-"), "APPLIANCE_COMPONENT": component,
              "APPLIANCE_HOME": str(home)}
    hub = hub or (component.removeprefix("hub-") if component.startswith("hub-") else "")
    fields.update({"APPLIANCE_HUB": hub} if hub else {})
    fields.update({"APPLIANCE_MEMBER": member} if member else {})
    return fields


def open_private(path: Path) -> int:
    """A descriptor appending to ``path``, made with mode 0600 or tightened to it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, LOG_MODE)
    os.fchmod(descriptor, LOG_MODE)
    return descriptor


class RotatingLog:
    """Append-only byte sink that rotates at ``max_bytes`` and keeps ``backups`` old files; what it is given goes
    to ``journal`` too, if there is one."""

    def __init__(self, path: Path, max_bytes: int, backups: int, journal: JournalSink | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.journal = journal
        self._handle = os.fdopen(open_private(path), "ab")
        self._size = self._handle.tell()

    def write(self, data: bytes) -> None:
        if self.max_bytes > 0 and self._size + len(data) > self.max_bytes and self._size > 0:
            self._rotate()
        self._handle.write(data)
        self._handle.flush()
        self._size += len(data)
        if self.journal is not None:
            self.journal.write(data)

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
        if self.journal is not None:
            self.journal.close()


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


def copy_input(path: Path, max_bytes: int, backups: int, journal_args: list[str]) -> None:
    """Copy standard input into the rotated log ``path`` until its writers close it; with ``journal_args``
    (HOME MEMBER HUB) into the journal too."""
    journal = None
    if len(journal_args) == 3:
        home, member, hub = journal_args
        journal = JournalSink(journal_fields(Path(home), f"member:{member}", member, hub))
    log = RotatingLog(path, max_bytes, backups, journal)
    try:
        while data := os.read(0, 65536):
            log.write(data)
    finally:
        log.close()


if __name__ == "__main__":
    copy_input(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
