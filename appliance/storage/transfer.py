"""Bringing a lab's existing notebooks into a namespace, and taking them out again."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.storage.errors import StorageError
from appliance.storage.store import FileStore

Progress = Callable[[str, int], None]  # (path, bytes) after each file


@dataclass
class TransferReport:
    files: int = 0
    directories: int = 0
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def plan_import(source: Path) -> tuple[list[str], list[tuple[str, Path]]]:
    """The directories and regular files under ``source``, as namespace paths (symlinks not followed)."""
    directories, files = [], []
    for root, dirnames, filenames in os.walk(source, followlinks=False):
        base = Path(root).relative_to(source).as_posix()
        prefix = "" if base == "." else base + "/"
        dirnames.sort()
        directories += [prefix + name for name in dirnames if not (Path(root) / name).is_symlink()]
        files += [(prefix + name, Path(root) / name) for name in sorted(filenames)]
    return directories, files


async def import_tree(store: FileStore, username: str, source: Path,
                      progress: Progress | None = None) -> TransferReport:
    report = TransferReport()
    directories, files = plan_import(source)
    for directory in directories:
        await store.mkdir(username, directory)
        report.directories += 1
    for path, local in files:
        if local.is_symlink() or not local.is_file():
            report.skipped.append((path, "not a regular file"))
            continue
        size = local.stat().st_size
        try:
            store.check_size(path, size)
            await store.write(username, path, local.read_bytes())
        except StorageError as error:
            report.skipped.append((path, error.message))
            continue
        report.files += 1
        report.bytes += size
        if progress:
            progress(path, size)
    return report


async def export_tree(store: FileStore, username: str, target: Path,
                      progress: Progress | None = None) -> TransferReport:
    report = TransferReport()
    pending = [""]
    while pending:
        _, entries = await store.listing(username, pending.pop())
        for entry in entries:
            local = target / entry.path
            if entry.kind == "directory":
                local.mkdir(parents=True, exist_ok=True)
                report.directories += 1
                pending.append(entry.path)
                continue
            _, data = await store.read(username, entry.path)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            report.files += 1
            report.bytes += len(data)
            if progress:
                progress(entry.path, len(data))
    return report
