"""Child logs rotate by size, keep a bounded number of old files and are readable by the appliance only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from appliance.supervisor import logs
from appliance.supervisor.logs import RotatingLog, tail


def test_rotation_keeps_backups_and_drops_the_oldest(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "portal.log", max_bytes=100, backups=2)
    for index in range(10):
        log.write(f"line {index:02d} ".encode() + b"x" * 40 + b"\n")
    log.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["portal.log", "portal.log.1", "portal.log.2"]
    assert all(path.stat().st_size <= 100 for path in tmp_path.iterdir())
    assert "line 09" in (tmp_path / "portal.log").read_text()
    assert "line 07" in (tmp_path / "portal.log.1").read_text()
    assert "line 00" not in "".join(path.read_text() for path in tmp_path.iterdir())


def test_reopening_appends(tmp_path: Path) -> None:
    for text in (b"first\n", b"second\n"):
        log = RotatingLog(tmp_path / "a.log", max_bytes=1000, backups=1)
        log.write(text)
        log.close()
    assert tail(tmp_path / "a.log", 5) == ["first", "second"]
    assert tail(tmp_path / "missing.log", 5) == []


def test_logs_are_made_private_and_an_old_wide_one_is_tightened(tmp_path: Path) -> None:
    old = tmp_path / "hub-1.log"
    old.write_text("left by an earlier version\n")
    old.chmod(0o644)
    for path in (old, tmp_path / "new.log"):
        log = RotatingLog(path, max_bytes=10, backups=1)
        log.write(b"more than ten bytes\n")
        log.write(b"rotated\n")
        log.close()
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in tmp_path.iterdir()} == {
        name: "0o600" for name in ("hub-1.log", "hub-1.log.1", "new.log", "new.log.1")}


def test_run_as_a_script_it_copies_its_input_with_the_standard_library_alone(tmp_path: Path) -> None:
    log = tmp_path / "alice.log"
    log.write_text("kept\n")
    writer = subprocess.run([sys.executable, "-I", "-S", logs.__file__, str(log), "1000", "1"],
                            input=b"a line\n" * 4, capture_output=True, timeout=30, check=False)
    assert writer.returncode == 0, writer.stderr
    assert log.read_bytes() == b"kept\n" + b"a line\n" * 4
    assert log.stat().st_mode & 0o777 == 0o600


def test_each_line_goes_to_the_journal_as_an_entry_with_the_components_fields(tmp_path: Path) -> None:
    import socket

    from appliance.supervisor.logs import JournalSink, journal_fields

    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(str(tmp_path / "journal.socket"))
    journal.settimeout(5)
    sink = JournalSink(journal_fields(Path("/var/lib/appliance"), "member:ada", "ada", "2"),
                       address=str(tmp_path / "journal.socket"))
    sink.write(b"[I 2026-12-03 ready]\n[E 2026-12-03 a kernel")
    sink.write(b" died]\n\nhalf a line")
    sink.close()  # what was left without a newline is sent too
    entries = [dict(field.split("=", 1) for field in journal.recv(65536).decode().splitlines()) for _ in range(3)]
    journal.close()
    assert [(entry["MESSAGE"], entry["PRIORITY"]) for entry in entries] == [
        ("[I 2026-12-03 ready]", "6"), ("[E 2026-12-03 a kernel died]", "3"), ("half a line", "6")]
    assert {(e["APPLIANCE_COMPONENT"], e["APPLIANCE_MEMBER"], e["APPLIANCE_HUB"], e["APPLIANCE_HOME"],
             e["SYSLOG_IDENTIFIER"]) for e in entries} == {
        ("member:ada", "ada", "2", "/var/lib/appliance", "appliance-member-ada")}
