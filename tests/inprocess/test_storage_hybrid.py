"""Hybrid mode: real folders inside a member's files, next to what lives in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tornado.web import HTTPError

from appliance.storage.contents_manager import RemoteContentsManager
from appliance.storage.routing import RoutingContentsManager
from tests.harness import Appliance, mint_storage_token
from tests.integration.storage_client import new_member

Make = Callable[[Appliance, str], RoutingContentsManager]


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Make]:
    """Makes a member's manager as their server holds it, with two mounted folders: shared read-only
    datasets, and a scratch area each. Their connections are closed after the test."""
    datasets = tmp_path / "datasets"
    (datasets / "weather").mkdir(parents=True)
    (datasets / "weather" / "2026.csv").write_text("day,temp\n1,3\n")
    mounts = f"datasets={datasets}:ro, scratch={tmp_path}/scratch/{{username}}"
    opened: list[RoutingContentsManager] = []

    def make(appliance: Appliance, username: str) -> RoutingContentsManager:
        remote = RemoteContentsManager(storage_url=f"{appliance.portal_url}/api/storage/v1",
                                       storage_token=mint_storage_token(appliance, username))
        opened.append(RoutingContentsManager(remote=remote, username=username, mounts=mounts))
        return opened[-1]

    yield make
    for made in opened:
        await made.aclose()


async def test_mounted_folders_stand_beside_stored_files(portal_in_process: Appliance, manager: Make) -> None:
    name = new_member()
    cm = manager(portal_in_process, name)
    await cm.save({"type": "file", "format": "text", "content": "in the database"}, "notes.txt")
    root = await cm.get("")
    assert sorted(m["name"] for m in root["content"]) == ["datasets", "notes.txt", "scratch"]
    assert await cm.increment_filename("scratch", "") == "scratch1"  # a stored file never takes a folder's name
    datasets = await cm.get("datasets")
    assert datasets["type"] == "directory" and datasets["writable"] is False
    assert [m["path"] for m in datasets["content"]] == ["datasets/weather"]
    csv = await cm.get("datasets/weather/2026.csv")
    assert csv["content"] == "day,temp\n1,3\n" and csv["path"] == "datasets/weather/2026.csv"


async def test_read_only_folder_refuses_every_change(portal_in_process: Appliance, tmp_path: Path,
                                                     manager: Make) -> None:
    cm = manager(portal_in_process, new_member())
    attempts = [
        cm.save({"type": "file", "format": "text", "content": "x"}, "datasets/new.txt"),
        cm.delete("datasets/weather/2026.csv"),
        cm.rename("datasets/weather/2026.csv", "datasets/weather/2027.csv"),
        cm.new_untitled("datasets", type="notebook"),
    ]
    for attempt in attempts:
        with pytest.raises(HTTPError) as refused:
            await attempt
        assert refused.value.status_code == 403 and "datasets/ is a read-only folder" in refused.value.log_message
    assert (tmp_path / "datasets" / "weather" / "2026.csv").read_text() == "day,temp\n1,3\n"
    for mount_point in (cm.delete("datasets"), cm.rename("datasets", "data")):
        with pytest.raises(HTTPError) as refused:
            await mount_point
        assert refused.value.status_code == 400 and "mounted folder" in refused.value.log_message


async def test_scratch_is_per_member_and_writable(portal_in_process: Appliance, tmp_path: Path, manager: Make) -> None:
    name = new_member()
    cm = manager(portal_in_process, name)
    model = await cm.new_untitled("scratch", type="notebook")
    assert model["path"] == "scratch/Untitled.ipynb"
    assert (tmp_path / "scratch" / name / "Untitled.ipynb").is_file()  # on this machine's disk
    checkpoint = await cm.create_checkpoint("scratch/Untitled.ipynb")
    assert [c["id"] for c in await cm.list_checkpoints("scratch/Untitled.ipynb")] == [checkpoint["id"]]
    other = manager(portal_in_process, new_member())
    assert (await other.get("scratch"))["content"] == []  # another member's scratch is their own


async def test_crossing_between_database_and_folders(portal_in_process: Appliance, manager: Make) -> None:
    cm = manager(portal_in_process, new_member())
    copied = await cm.copy("datasets/weather/2026.csv", "")
    assert copied["path"] == "2026.csv" and (await cm.get("2026.csv"))["content"] == "day,temp\n1,3\n"
    back = await cm.copy("2026.csv", "scratch")
    assert back["path"] == "scratch/2026.csv"
    with pytest.raises(HTTPError) as refused:
        await cm.rename("2026.csv", "scratch/moved.csv")
    assert refused.value.status_code == 400
    assert "scratch/ is a folder on this machine, not your notebook storage. Copy it instead" in \
        refused.value.log_message
    assert await cm.file_exists("2026.csv")  # nothing moved
