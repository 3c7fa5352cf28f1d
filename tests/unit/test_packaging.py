"""The wheel the installer builds holds every package and data file the appliance needs."""

from __future__ import annotations

import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the JupyterLab extension's npm project (sources, node_modules): its build output is what ships
NOT_SHIPPED = {"labextension"}


def test_the_wheel_holds_every_module_template_and_migration(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "appliance").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    assert sources - names == set()  # every module and data file of the source tree is shipped
    webui = {"appliance/webui/" + path.relative_to(ROOT / "webui").as_posix()
             for path in (ROOT / "webui").rglob("*") if path.is_file() and "__pycache__" not in path.parts
             and path.relative_to(ROOT / "webui").parts[0] not in NOT_SHIPPED}
    assert webui - names == set()
    # the gallery's JupyterLab extension, prebuilt by the wheel's build (a lab machine never compiles it)
    extension = "appliance/webui/labextensions/@appliance/gallery/"
    assert {f"{extension}package.json", f"{extension}schemas/@appliance/gallery/plugin.json"} <= names
    assert any(name.startswith(f"{extension}static/remoteEntry.") for name in names), sorted(names)
    assert not [name for name in names if "node_modules" in name or "/labextension/" in name]
    assert "appliance/db/migrations/script.py.mako" in names
