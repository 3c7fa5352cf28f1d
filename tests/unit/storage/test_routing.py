"""The routing manager on its own (appliance/storage/routing.py): paths sent by their first part, and the
mounted folders, which need no storage. With the storage: tests/inprocess/test_storage_hybrid.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tornado.web import HTTPError

from appliance.storage.routing import RoutingContentsManager


def router(mounts: str, **traits: object) -> RoutingContentsManager:
    """A member's router with no storage configured: every path these tests use is in a folder."""
    return RoutingContentsManager(username="ada", mounts=mounts, **traits)


def test_a_path_goes_to_the_folder_its_first_part_names(tmp_path: Path) -> None:
    manager = router(f"scratch={tmp_path}/{{username}}")
    inside, mount_point = manager.route("/scratch/a/b.txt"), manager.route("scratch")
    stored = manager.route("a/scratch")
    assert (inside.folder, inside.path) == (manager.folders["scratch"], "a/b.txt")
    assert mount_point.is_mount_point and mount_point.outer_path("") == "scratch"
    assert (stored.manager, stored.path, stored.folder) == (manager.remote, "a/scratch", None)
    assert manager.remote.reserved_names == {"scratch"}  # new stored files at the top never take its name
    assert (tmp_path / "ada").is_dir()


def test_the_storage_allows_hidden_files_when_the_router_does() -> None:
    manager = router("", allow_hidden=True)
    assert manager.remote.allow_hidden
    manager.allow_hidden = False  # the server's handlers ask the router
    assert not manager.remote.allow_hidden


async def test_in_a_folder_a_file_is_renamed_and_deleted_with_its_checkpoints(tmp_path: Path) -> None:
    manager = router(f"scratch={tmp_path}")
    saved = await manager.save({"type": "file", "format": "text", "content": "x"}, "scratch/a.txt")
    assert (saved["path"], saved["name"]) == ("scratch/a.txt", "a.txt")
    checkpoint = await manager.create_checkpoint("scratch/a.txt")
    await manager.rename("scratch/a.txt", "scratch/b.txt")
    assert [c["id"] for c in await manager.list_checkpoints("scratch/b.txt")] == [checkpoint["id"]]
    await manager.delete("scratch/b.txt")
    assert not await manager.exists("scratch/b.txt") and await manager.exists("scratch")
    assert not list((tmp_path / ".ipynb_checkpoints").iterdir())


async def test_a_folder_cannot_be_deleted_or_moved_and_nothing_moves_out_of_it_or_hides(tmp_path: Path) -> None:
    manager = router(f"scratch={tmp_path}")
    await manager.save({"type": "file", "format": "text", "content": "x"}, "scratch/a.txt")
    attempts = {manager.delete("scratch"): "scratch/ is a mounted folder; it cannot be deleted.",
                manager.rename("scratch", "elsewhere"): "scratch/ is a mounted folder; it cannot be renamed.",
                manager.rename("scratch/a.txt", "a.txt"): "Cannot move scratch/a.txt to a.txt: scratch/ is a folder "
                "on this machine, not your notebook storage. Copy it instead, then delete the original.",
                manager.rename("scratch/a.txt", "scratch/.a.txt"): "Cannot rename file or directory 'scratch/a.txt'"}
    for attempt, message in attempts.items():
        with pytest.raises(HTTPError) as refused:
            await attempt
        assert (refused.value.status_code, refused.value.log_message) == (400, message)
    assert (tmp_path / "a.txt").read_text() == "x"


async def test_a_mounted_folder_the_server_cannot_use_is_named_with_what_to_do(tmp_path: Path) -> None:
    manager = router(f"datasets={tmp_path}/missing:ro")
    with pytest.raises(HTTPError) as refused:
        await manager.get("datasets")
    message = refused.value.log_message or ""
    assert refused.value.status_code == 500 and f"datasets/ ({tmp_path}/missing, storage.mounts)" in message
    assert "No such file or directory" in message and "readable" in message
