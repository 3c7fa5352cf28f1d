"""A member's JupyterLab server as a hub spawns it, reached through the front proxy with the member's own
cookies: JupyterLab's Download (``/files/``) reads through the storage, and the configured hybrid mounts
(storage.mounts) are in the member's files, readable and writable as their own system user."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import MemberServer
from tests.integration.oauth import Browser, follow

NOTEBOOK = {"cells": [{"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# kept in PostgreSQL"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
BINARY = bytes(range(256)) * 3  # not UTF-8: stored and served as base64
DATASET = b"day,temp\n1,3\n"


@dataclass
class Lab:
    appliance: Appliance
    mounts: Path  # holds datasets/ (shared, read-only) and scratch/<member>/ (each member's own)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """One hub, with two mounted folders in every member's files. The folders are readable by members'
    system users (the local spawner runs servers as jupyter-<name> under root)."""
    mounts = Path(tempfile.mkdtemp(prefix="appliance-mounts-"))
    os.chmod(mounts, 0o755)
    (mounts / "datasets" / "weather").mkdir(parents=True)
    (mounts / "datasets" / "weather" / "2026.csv").write_bytes(DATASET)
    for folder in (mounts / "datasets", mounts / "datasets" / "weather"):
        os.chmod(folder, 0o755)
    spec = f"datasets={mounts}/datasets:ro, scratch={mounts}/scratch/{{username}}"
    try:
        for appliance in running(hubs=1, APPLIANCE_STORAGE_MOUNTS=spec):
            yield Lab(appliance, mounts)
    finally:
        shutil.rmtree(mounts, ignore_errors=True)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


class Server(MemberServer):
    """A member's running JupyterLab, with JupyterLab's Download."""

    def download(self, path: str, **params: str) -> httpx.Response:
        return self.browser.get(f"{self.url}/files/{path}", params={"_xsrf": self.xsrf, **params})


@pytest.fixture
def member(lab: Lab) -> Iterator[Server]:
    server = Server(lab.appliance, f"d{secrets.token_hex(4)}")
    yield server
    server.browser.close()


def test_the_owner_downloads_a_notebook_and_files_through_the_storage(lab: Lab, member: Server) -> None:
    member.put("analysis.ipynb", {"type": "notebook", "content": NOTEBOOK})
    member.put("notes.txt", {"type": "file", "format": "text", "content": "plain words\n"})
    member.put("blob.bin", {"type": "file", "format": "base64", "content": base64.b64encode(BINARY).decode()})

    notebook = member.download("analysis.ipynb")
    assert notebook.status_code == 200, notebook.text[:2000]
    assert notebook.headers["content-type"] == "application/x-ipynb+json"
    cell = json.loads(notebook.content)["cells"][0]
    assert "".join(cell["source"]) == "# kept in PostgreSQL"  # the file as stored (lines split)
    text = member.download("notes.txt")
    assert text.status_code == 200 and text.content == b"plain words\n"
    assert text.headers["content-type"].startswith("text/plain")
    assert "content-disposition" not in text.headers  # shown in the browser, not saved
    binary = member.download("blob.bin", download="1")
    assert binary.status_code == 200 and binary.content == BINARY
    assert binary.headers["content-type"] == "application/octet-stream"
    assert binary.headers["content-disposition"] == "attachment; filename*=utf-8''blob.bin"
    saved_notebook = member.download("analysis.ipynb", download="1")
    assert saved_notebook.headers["content-disposition"] == "attachment; filename*=utf-8''analysis.ipynb"
    assert saved_notebook.content == notebook.content
    assert member.download("missing.txt").status_code == 404


def test_another_member_gets_nothing_of_a_members_files(lab: Lab, member: Server) -> None:
    member.put("private.txt", {"type": "file", "format": "text", "content": "for my eyes only\n"})
    other = Server(lab.appliance, f"o{secrets.token_hex(4)}")
    try:
        for params in ({}, {"download": "1"}, {"_xsrf": other.xsrf}):
            # with every cookie the colleague's browser holds, through the hub's OAuth as a browser follows it
            answer = follow(other.browser, f"{member.url}/files/private.txt?{httpx.QueryParams(params)}")
            assert answer.status_code == 403, (answer.status_code, answer.url)
            assert b"for my eyes only" not in answer.content
    finally:
        other.browser.close()


def test_the_configured_mounts_are_in_a_hub_spawned_members_files(lab: Lab, member: Server) -> None:
    root = member.browser.get(f"{member.url}/api/contents")
    assert root.status_code == 200, root.text
    listed = {entry["name"]: entry for entry in root.json()["content"]}
    assert {"datasets", "scratch"} <= set(listed), sorted(listed)
    assert listed["datasets"]["type"] == "directory" and listed["datasets"]["writable"] is False

    csv = member.browser.get(f"{member.url}/api/contents/datasets/weather/2026.csv")
    assert csv.status_code == 200 and csv.json()["content"] == DATASET.decode(), csv.text
    assert member.download("datasets/weather/2026.csv").content == DATASET
    refused = member.browser.put(f"{member.url}/api/contents/datasets/mine.txt", headers={"X-XSRFToken": member.xsrf},
                                 json={"type": "file", "format": "text", "content": "x"})
    assert refused.status_code == 403 and "read-only" in refused.json()["message"]

    # scratch/ is the member's own folder on this machine's disk, made for them and owned by their user
    member.put("scratch/draft.txt", {"type": "file", "format": "text", "content": "on local disk\n"})
    draft = lab.mounts / "scratch" / member.name / "draft.txt"
    assert draft.read_text() == "on local disk\n"
    if os.geteuid() == 0:
        assert draft.owner() == draft.parent.owner() == f"jupyter-{member.name}"
        assert draft.parent.stat().st_mode & 0o077 == 0  # no other member reads it
