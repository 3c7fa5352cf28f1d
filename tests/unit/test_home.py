"""The home's layout: what only the appliance may read stays its own, also when an earlier version left it wider."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.home import Home


def test_start_up_makes_the_logs_the_appliances_alone(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.member_logs_dir.mkdir(parents=True)
    for path in (home.log_file("portal"), home.logs_dir / "portal.log.1", home.member_logs_dir / "alice.log"):
        path.write_text("left by an earlier version\n")
        path.chmod(0o644)
    home.logs_dir.chmod(0o755)
    home.ensure()
    modes = {str(path.relative_to(home.root)): oct(path.stat().st_mode & 0o777)
             for path in [home.logs_dir, *home.logs_dir.rglob("*")]}
    assert modes == {"logs": "0o700", "logs/members": "0o700", "logs/portal.log": "0o600",
                     "logs/portal.log.1": "0o600", "logs/members/alice.log": "0o600"}
    assert os.stat(home.root / "hubs").st_mode & 0o777 == 0o700
