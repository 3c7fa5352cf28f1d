"""Notebooks in the storage: trust is kept with the bytes, so that a member's next server (on any
hub, with a home that did not outlive the last one) still trusts their notebooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from appliance.storage.contents_manager import RemoteContentsManager
from tests.harness import Appliance, mint_storage_token
from tests.integration.storage_client import StorageCaller, mint, new_member

Make = Callable[[Appliance, str], RemoteContentsManager]

NOTEBOOK: dict[str, Any] = {
    "cells": [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {}, "source": "display(html)",
               "outputs": [{"output_type": "display_data", "metadata": {},
                            "data": {"text/html": "<script>alert(1)</script>"}}]}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture
async def storage_managers() -> AsyncIterator[Make]:
    """Makes a member's RemoteContentsManager (the storage behind their server's routing manager); their
    connections are closed after the test."""
    opened: list[RemoteContentsManager] = []

    def make(appliance: Appliance, member: str) -> RemoteContentsManager:
        opened.append(RemoteContentsManager(storage_url=f"{appliance.portal_url}/api/storage/v1",
                                            storage_token=mint_storage_token(appliance, member)))
        return opened[-1]

    yield make
    for made in opened:
        await made.aclose()


def trusted_cells(model: dict[str, Any]) -> list[bool]:
    return [cell["metadata"].get("trusted") for cell in model["content"]["cells"]]


async def test_trust_outlives_the_server_and_follows_the_bytes(portal_in_process: Appliance,
                                                               storage_managers: Make) -> None:
    manager = storage_managers
    name = new_member()
    first = manager(portal_in_process, name)
    await first.save({"type": "notebook", "content": NOTEBOOK}, "received.ipynb")  # not run here: untrusted
    assert trusted_cells(await manager(portal_in_process, name).get("received.ipynb")) == [False]

    await first.trust_notebook("received.ipynb")
    assert trusted_cells(await manager(portal_in_process, name).get("received.ipynb")) == [True]

    # a notebook whose outputs this server produced (its cells are marked trusted) is saved trusted
    ran = await first.get("received.ipynb")
    await first.save({"type": "notebook", "content": ran["content"]}, "mine.ipynb")
    assert trusted_cells(await manager(portal_in_process, name).get("mine.ipynb")) == [True]

    # bytes written by anyone else (a clone from the gallery, an import) are not trusted
    StorageCaller(portal_in_process, mint(portal_in_process, name)).write("mine.ipynb", json.dumps(NOTEBOOK).encode())
    assert trusted_cells(await manager(portal_in_process, name).get("mine.ipynb")) == [False]

    # a checkpoint keeps the trust its bytes had
    await first.save({"type": "notebook", "content": ran["content"]}, "mine.ipynb")
    checkpoint = await first.create_checkpoint("mine.ipynb")
    await first.save({"type": "notebook", "content": NOTEBOOK}, "mine.ipynb")
    assert trusted_cells(await first.get("mine.ipynb")) == [False]
    await first.restore_checkpoint(checkpoint["id"], "mine.ipynb")
    assert trusted_cells(await manager(portal_in_process, name).get("mine.ipynb")) == [True]



async def test_new_untitled_names_come_from_one_listing(portal_in_process: Appliance,
                                                        storage_managers: Make) -> None:
    manager = storage_managers(portal_in_process, new_member())
    for folder in ("work", "Untitled Folder"):
        await manager.save({"type": "directory"}, folder)
    for taken in ("Untitled.ipynb", "Untitled1.ipynb", "Untitled3.ipynb", "work/Untitled.ipynb"):
        await manager.save({"type": "notebook", "content": NOTEBOOK}, taken)
    calls: list[tuple[str, str]] = []
    storage_call = manager.storage.call

    async def counted(method: str, verb: str, path: str, **options: Any) -> Any:
        calls.append((verb, path))
        return await storage_call(method, verb, path, **options)

    manager.storage.call = counted  # type: ignore[method-assign]
    assert await manager.increment_filename("Untitled.ipynb") == "Untitled2.ipynb"
    assert calls == [("list", "")]  # one listing, not a stat per name taken
    assert await manager.increment_filename("Untitled.ipynb", "work") == "Untitled1.ipynb"
    assert await manager.increment_filename("Untitled Folder", "", insert=" ") == "Untitled Folder 1"
    assert await manager.increment_filename("data.tar.gz", "") == "data.tar.gz"
    assert await manager.increment_filename("Untitled.ipynb", "nowhere") == "Untitled.ipynb"
    made = await manager.new_untitled(type="notebook")
    assert made["path"] == "Untitled2.ipynb"
