"""`appliance logs --since … --grep …` over the files: every rotated file, oldest first, each line's time from its
own stamp or the line before's, several logs merged by time."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from appliance.errors import ApplianceError
from appliance.home import Home
from appliance.logview import search


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path)
    home.logs_dir.mkdir()
    (home.logs_dir / "hub-1.log.2").write_text("[I 2026-12-01 10:00:00.001 ApplianceHub] oldest rotated\n")
    (home.logs_dir / "hub-1.log.1").write_text("[E 2026-12-02 09:00:00.5 ApplianceHub] spawn failed\n"
                                               "    Traceback (most recent call last):\n")
    home.log_file("hub-1").write_text("[I 2026-12-03 08:00:00.000 ApplianceHub] spawn ok\n")
    home.log_file("postgres").write_text("2026-12-02 12:00:00.000 UTC [42] LOG:  checkpoint starting\n"
                                         "2026-12-03 07:30:00.000 UTC [42] ERROR:  relation missing\n")
    return home


def test_since_reads_every_rotated_file_and_merges_logs_by_time(home: Home) -> None:
    found = search(home, ["hub-1", "postgres"], at("2026-12-02 00:00"), None, 100)
    assert [line.split(" | ", 1)[1] for line in found] == [
        "[E 2026-12-02 09:00:00.5 ApplianceHub] spawn failed",
        "    Traceback (most recent call last):",  # the time of the line before
        "2026-12-02 12:00:00.000 UTC [42] LOG:  checkpoint starting",
        "2026-12-03 07:30:00.000 UTC [42] ERROR:  relation missing",
        "[I 2026-12-03 08:00:00.000 ApplianceHub] spawn ok"]
    assert found[0].startswith("2026-12-02 09:00:00      hub-1 | ")


def test_grep_is_a_case_insensitive_expression_and_lines_keeps_the_last(home: Home) -> None:
    assert [line.split(" | ", 1)[1] for line in search(home, ["hub-1"], None, "SPAWN (ok|failed)", 100)] == [
        "[E 2026-12-02 09:00:00.5 ApplianceHub] spawn failed", "[I 2026-12-03 08:00:00.000 ApplianceHub] spawn ok"]
    assert len(search(home, ["hub-1", "postgres"], None, "e", 2)) == 2
    assert search(home, ["hub-1"], at("2026-12-04 00:00"), None, 100) == []
    with pytest.raises(ApplianceError, match="is not a regular expression"):
        search(home, ["hub-1"], None, "spawn (", 10)


def test_a_log_without_stamps_has_its_files_time(home: Home) -> None:
    members = home.member_logs_dir
    members.mkdir()
    output = members / "ada.log"
    output.write_text("hello from a notebook\n")
    hour_ago = time.time() - 3600
    os.utime(output, (hour_ago, hour_ago))
    assert len(search(home, ["member:ada"], at(datetime.fromtimestamp(hour_ago - 60).isoformat()), None, 10)) == 1
    assert search(home, ["member:ada"], at(datetime.fromtimestamp(hour_ago + 60).isoformat()), None, 10) == []
