"""Blobs: a file and its checkpoints share sealed bytes, nothing is left behind, and compressible
files are stored compressed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.inprocess.conftest import InProcessPortal
from tests.integration.storage_client import StorageCaller, mint, new_member


def blob_counts(appliance: Appliance, username: str, settle_s: float = 5) -> dict[str, int]:
    """Blobs of the member, blobs nothing refers to, and the references held by files and checkpoints,
    once the portal's release of replaced blobs (just after each save answers) has had its moment."""
    deadline = time.monotonic() + settle_s
    while (counts := _blob_counts(appliance, username))["orphans"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return counts


def _blob_counts(appliance: Appliance, username: str) -> dict[str, int]:
    engine = create_engine(appliance.database_url())
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT count(*) AS blobs, "
            "  count(*) FILTER (WHERE NOT EXISTS (SELECT FROM storage.files f WHERE f.blob_id = b.id) "
            "                   AND NOT EXISTS (SELECT FROM storage.checkpoints c WHERE c.blob_id = b.id)) AS orphans, "
            "  (SELECT count(*) FROM storage.files f WHERE f.namespace_id = n.id AND f.blob_id IS NOT NULL) AS files, "
            "  (SELECT count(*) FROM storage.checkpoints c JOIN storage.files f ON f.id = c.file_id "
            "   WHERE f.namespace_id = n.id) AS checkpoints "
            "FROM storage.namespaces n LEFT JOIN storage.blobs b ON b.namespace_id = n.id "
            "WHERE n.username = :u GROUP BY n.id"), {"u": username}).one()
    engine.dispose()
    return dict(row._mapping)


def test_checkpoints_share_the_files_bytes_and_nothing_is_left_behind(portal_in_process: Appliance) -> None:
    name = new_member()
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    member.mkdir("d")
    assert member.write("d/a.txt", b"one").status_code == 200
    first = member.call("POST", "checkpoints", "d/a.txt").json()["id"]
    member.call("POST", "checkpoints", "d/a.txt")
    assert blob_counts(portal_in_process, name) == {"blobs": 1, "orphans": 0, "files": 1, "checkpoints": 2}

    member.write("d/a.txt", b"two")  # the old bytes stay, held by the checkpoints
    assert blob_counts(portal_in_process, name) == {"blobs": 2, "orphans": 0, "files": 1, "checkpoints": 2}
    member.write("d/a.txt", b"three")  # "two" was held by nothing else: gone
    assert blob_counts(portal_in_process, name)["blobs"] == 2

    assert member.call("POST", "restore", "d/a.txt", params={"checkpoint": first}).json()["size"] == 3
    assert member.read("d/a.txt").content == b"one"
    assert blob_counts(portal_in_process, name) == {"blobs": 1, "orphans": 0, "files": 1, "checkpoints": 2}

    member.call("POST", "copy", "d/a.txt", params={"to": "b.txt"})  # a copy owns its own blob
    member.call("DELETE", "checkpoints", "d/a.txt", params={"checkpoint": "all"})
    assert blob_counts(portal_in_process, name) == {"blobs": 2, "orphans": 0, "files": 2, "checkpoints": 0}
    member.call("POST", "checkpoints", "d/a.txt")
    assert member.call("DELETE", "delete", "d").status_code == 204  # the directory, its file and checkpoint
    assert blob_counts(portal_in_process, name) == {"blobs": 1, "orphans": 0, "files": 1, "checkpoints": 0}
    assert member.read("b.txt").content == b"one"


def test_retention_drops_the_oldest_checkpoints_and_their_bytes(new_portal: Callable[..., InProcessPortal]) -> None:
    appliance = new_portal(APPLIANCE_STORAGE_CHECKPOINTS_KEPT="2")
    name = new_member()
    member = StorageCaller(appliance, mint(appliance, name))
    for version in range(5):
        member.write("a.txt", f"version {version}".encode())
        member.call("POST", "checkpoints", "a.txt")
    history = member.call("GET", "checkpoints", "a.txt").json()
    assert len(history) == 2
    member.call("POST", "restore", "a.txt", params={"checkpoint": history[-1]["id"]})
    assert member.read("a.txt").content == b"version 3"
    assert blob_counts(appliance, name) == {"blobs": 2, "orphans": 0, "files": 1, "checkpoints": 2}


def test_compressible_files_are_stored_deflated_and_read_back_whole(portal_in_process: Appliance) -> None:
    name = new_member()
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "print(1)", "outputs": []}
    notebook = json.dumps({"cells": [cell] * 2000, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}).encode()
    noise = os.urandom(200_000)
    member.write("big.ipynb", notebook)
    member.write("noise.bin", noise)
    engine = create_engine(portal_in_process.database_url())
    with engine.connect() as connection:
        stored = {row.path: (row.encoding, row.length) for row in connection.execute(text(
            "SELECT f.path, b.encoding, length(b.content) FROM storage.files f JOIN storage.blobs b "
            "ON b.id = f.blob_id JOIN storage.namespaces n ON n.id = f.namespace_id WHERE n.username = :u"),
            {"u": name})}
    engine.dispose()
    assert stored["big.ipynb"][0] == "deflate" and stored["big.ipynb"][1] < len(notebook) / 10
    assert stored["noise.bin"][0] == "identity"
    for accept in ("deflate", "identity"):
        response = member.call("GET", "read", "big.ipynb", headers={"Accept-Encoding": accept})
        assert response.headers.get("content-encoding", "identity") == accept
        assert response.content == notebook and json.loads(response.headers["x-storage-entry"])["size"] == len(notebook)
    assert member.read("noise.bin").content == noise
    member.call("POST", "copy", "big.ipynb", params={"to": "copy.ipynb"})
    assert member.read("copy.ipynb").content == notebook


def test_blobs_left_behind_by_a_stopped_portal_are_swept_at_its_next_start(
        new_portal: Callable[..., InProcessPortal]) -> None:
    appliance = new_portal()
    name = new_member()
    StorageCaller(appliance, mint(appliance, name)).write("a.txt", b"kept")
    engine = create_engine(appliance.database_url())
    with engine.begin() as connection:  # what a portal killed between a save and its release leaves
        connection.execute(text("INSERT INTO storage.blobs (namespace_id, content) SELECT id, 'x' "
                                "FROM storage.namespaces WHERE username = :u"), {"u": name})
    engine.dispose()
    assert _blob_counts(appliance, name)["orphans"] == 1
    appliance.restart()
    assert blob_counts(appliance, name) == {"blobs": 1, "orphans": 0, "files": 1, "checkpoints": 0}
    assert StorageCaller(appliance, mint(appliance, name)).read("a.txt").content == b"kept"
