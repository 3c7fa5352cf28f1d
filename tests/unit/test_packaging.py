"""The wheel the installer builds holds every package and data file the appliance needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_module_template_and_migration(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    names = set(zipfile.ZipFile(next(tmp_path.glob("appliance-*.whl"))).namelist())
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "appliance").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    assert sources - names == set()  # every module and data file of the source tree is shipped
    webui = {"appliance/webui/" + path.relative_to(ROOT / "webui").as_posix()
             for path in (ROOT / "webui").rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert webui - names == set()
    assert "appliance/db/migrations/script.py.mako" in names
