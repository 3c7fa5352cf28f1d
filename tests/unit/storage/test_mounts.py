"""Hybrid mode's mounted folders as a member's server sets them up (appliance/storage/mounts.py, MountedFolder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tornado.web import HTTPError

from appliance.storage.contents_manager import RemoteContentsManager
from appliance.storage.mounts import parse_mounts


def test_a_folder_with_username_in_its_path_is_each_members_own() -> None:
    shared, own = parse_mounts("datasets=/srv/datasets:ro, scratch=/srv/scratch/{username}")
    assert (shared.per_member, own.per_member) == (False, True)
    assert own.root_for("ada") == "/srv/scratch/ada"


async def test_a_mounted_folder_the_server_cannot_use_is_named_with_what_to_do(tmp_path: Path) -> None:
    manager = RemoteContentsManager(storage_url="http://127.0.0.1:9/api/storage/v1", storage_token="unused",
                                    username="ada", mounts=f"datasets={tmp_path}/missing:ro")
    with pytest.raises(HTTPError) as refused:
        await manager.get("datasets")
    message = refused.value.log_message or ""
    assert refused.value.status_code == 500 and f"datasets/ ({tmp_path}/missing, storage.mounts)" in message
    assert "No such file or directory" in message and "readable" in message
