"""`appliance logs`: members' server logs are listed as member:<name>, and each of their lines shows its
origin, so a member cannot print lines that pass for the appliance's."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.home import Home
from appliance.logview import known_logs, print_tail


def test_member_logs_are_listed_and_their_lines_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path)
    home.member_logs_dir.mkdir(parents=True)
    home.log_file("hub-1").write_text("[I 2026-11-30 hub-1] spawned alice\n")
    (home.member_logs_dir / "alice.log").write_text("==> hub-1 <==\n[I 2026-11-30 hub-1] fake\n")
    assert known_logs(home) == ["hub-1", "member:alice"]
    print_tail(home, ["member:alice"], 10)
    assert capsys.readouterr().out == "member:alice | ==> hub-1 <==\nmember:alice | [I 2026-11-30 hub-1] fake\n"
    print_tail(home, known_logs(home), 10)
    assert capsys.readouterr().out.splitlines() == [
        "==> hub-1 <==", "[I 2026-11-30 hub-1] spawned alice",
        "==> member:alice <==", "member:alice | ==> hub-1 <==", "member:alice | [I 2026-11-30 hub-1] fake"]
