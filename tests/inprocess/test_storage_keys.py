"""Master-key rotation and data-key replacement, with the portal running."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.storage_client import StorageCaller, mint, new_member


def sealed_blobs(appliance: Appliance, username: str) -> tuple[bytes, list[bytes]]:
    engine = create_engine(appliance.database_url())
    with engine.connect() as connection:
        wrapped = connection.execute(text("SELECT wrapped_key FROM storage.namespaces WHERE username = :u"),
                                     {"u": username}).scalar_one()
        blobs = connection.execute(text(
            "SELECT b.content FROM storage.blobs b JOIN storage.namespaces n ON n.id = b.namespace_id "
            "WHERE n.username = :u"), {"u": username}).scalars().all()
    engine.dispose()
    return bytes(wrapped), sorted(bytes(b) for b in blobs)


def test_master_key_rotation_rewraps_without_touching_content(portal_in_process: Appliance) -> None:
    name = new_member()
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    member.write("a.txt", b"kept across rotations")
    member.call("POST", "checkpoints", "a.txt")
    wrapped_before, blobs_before = sealed_blobs(portal_in_process, name)
    key_file = portal_in_process.home / "secrets" / "storage-master-keys"

    rotated = portal_in_process.cli("storage", "rotate-master-key")
    assert rotated.returncode == 0 and "re-wrapped" in rotated.stdout, rotated.stderr
    assert len(key_file.read_text().split()) == 2
    wrapped_after, blobs_after = sealed_blobs(portal_in_process, name)
    assert wrapped_after != wrapped_before and blobs_after == blobs_before  # keys re-wrapped, content untouched
    assert member.read("a.txt").content == b"kept across rotations"  # the running portal reads on

    retired = portal_in_process.cli("storage", "rotate-master-key", "--retire-old")
    assert retired.returncode == 0 and "retired" in retired.stdout
    assert len(key_file.read_text().split()) == 1
    assert key_file.stat().st_mode & 0o777 == 0o600
    newcomer = StorageCaller(portal_in_process, mint(portal_in_process, new_member()))
    assert newcomer.write("b.txt", b"made after").status_code == 200
    portal_in_process.restart()  # a fresh portal has only the new key
    assert member.read("a.txt").content == b"kept across rotations"
    assert newcomer.read("b.txt").content == b"made after"


def test_reencrypt_replaces_the_data_key_and_reseals_everything(portal_in_process: Appliance) -> None:
    name = new_member()
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    member.mkdir("d")
    member.write("d/a.txt", b"version one")
    checkpoint = member.call("POST", "checkpoints", "d/a.txt").json()["id"]
    member.write("d/a.txt", b"version two")
    wrapped_before, blobs_before = sealed_blobs(portal_in_process, name)

    result = portal_in_process.cli("storage", "reencrypt", name)
    assert result.returncode == 0 and "re-encrypted 2 stored version(s)" in result.stdout, result.stderr
    wrapped_after, blobs_after = sealed_blobs(portal_in_process, name)
    assert wrapped_after != wrapped_before
    assert not set(blobs_after) & set(blobs_before) and len(blobs_after) == 2
    assert member.read("d/a.txt").content == b"version two"
    assert member.call("POST", "restore", "d/a.txt", params={"checkpoint": checkpoint}).status_code == 200
    assert member.read("d/a.txt").content == b"version one"
    missing = portal_in_process.cli("storage", "reencrypt", new_member())
    assert missing.returncode == 1 and "has no stored files" in missing.stderr
