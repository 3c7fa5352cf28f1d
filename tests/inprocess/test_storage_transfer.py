"""`appliance storage import` and `export` round-trip a real directory tree."""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness import Appliance
from tests.integration.storage_client import StorageCaller, mint, new_member


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"analysis.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
             "data/raw.csv": b"a,b\n1,2\n", "data/deep/er/x.bin": os.urandom(3000),
             "notes with spaces.md": "ünïcode ✓".encode(), ".hidden/config": b"k=v"}
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    (root / "empty-dir").mkdir()
    (root / "link-out").symlink_to("/etc/passwd")
    return files


def test_import_then_export_round_trips(portal_in_process: Appliance, tmp_path: Path) -> None:
    name = new_member()
    files = make_tree(tmp_path / "home")
    imported = portal_in_process.cli("storage", "import", name, str(tmp_path / "home"))
    assert imported.returncode == 0, imported.stderr
    assert "imported 5 file(s) and 5 folder(s)" in imported.stdout
    assert "skipped link-out: not a regular file" in imported.stderr  # a symlink is never followed out
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    assert member.read("data/deep/er/x.bin").content == files["data/deep/er/x.bin"]
    assert member.call("GET", "stat", "empty-dir").json()["type"] == "directory"

    refused = portal_in_process.cli("storage", "export", name, str(tmp_path / "home"))
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    exported = portal_in_process.cli("storage", "export", name, str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    for path, data in files.items():
        assert (tmp_path / "out" / path).read_bytes() == data
    assert (tmp_path / "out" / "empty-dir").is_dir()
    assert not (tmp_path / "out" / "link-out").exists()
