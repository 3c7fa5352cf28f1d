"""Hybrid mode's mounted folders as declared in storage.mounts (appliance/storage/mounts.py)."""

from __future__ import annotations

from appliance.storage.mounts import parse_mounts


def test_a_folder_with_username_in_its_path_is_each_members_own() -> None:
    shared, own = parse_mounts("datasets=/srv/datasets:ro, scratch=/srv/scratch/{username}")
    assert (shared.per_member, own.per_member) == (False, True)
    assert own.root_for("ada") == "/srv/scratch/ada"

