"""Child logs rotate by size and keep a bounded number of old files."""

from __future__ import annotations

from pathlib import Path

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
