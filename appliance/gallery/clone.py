"""Clone: a published version's notebook copied, on the server, into the viewer's own files.

The copy lands at the top of their files under the notebook's name, never over anything already
there (``Name (2).ipynb``, ``Name (3).ipynb``, …), and records where it came from in
``metadata.appliance.cloned_from`` (which a later publish of it reads as lineage). It goes through
the storage component's interface (``FileStore.create``), so it is sealed with the member's key like
any file they saved. The version's bytes never change, so a clone of version 1 stays version 1.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sqlalchemy import Engine, text

from appliance.storage.errors import AlreadyExists, BadPath
from appliance.storage.paths import name_of, normalize

MAX_ATTEMPTS = 100  # names tried before giving up (Name (100).ipynb)
FALLBACK_NAME = "notebook.ipynb"


class NotebookStore(Protocol):
    """What cloning needs of the storage component (storage.FileStore has it)."""

    async def create(self, username: str, raw_path: str, data: bytes) -> Any: ...


class CloneFailed(Exception):
    """Every candidate name was taken; the message says what to do."""


def candidate_names(source_path: str) -> list[str]:
    """``Name.ipynb``, then ``Name (2).ipynb`` … at the top of the files."""
    name = name_of(source_path)
    try:
        name = normalize(name) or FALLBACK_NAME
    except BadPath:
        name = FALLBACK_NAME
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, "ipynb"
    return [f"{stem}.{extension}", *(f"{stem} ({n}).{extension}" for n in range(2, MAX_ATTEMPTS + 1))]


def with_lineage(notebook: bytes, slug: str, version: int, title: str) -> bytes:
    """The notebook with ``metadata.appliance.cloned_from`` naming the publication and version."""
    document = json.loads(notebook)
    metadata = document.setdefault("metadata", {})
    appliance = metadata.get("appliance")
    if not isinstance(appliance, dict):
        appliance = metadata["appliance"] = {}
    appliance["cloned_from"] = {"publication": slug, "version": version, "title": title}
    return json.dumps(document, indent=1, ensure_ascii=False).encode() + b"\n"


class Cloner:
    def __init__(self, engine: Engine, store: NotebookStore):
        self.engine = engine
        self.store = store

    async def clone(self, username: str, slug: str, title: str, version: int,
                    source_path: str, notebook: bytes) -> str:
        """Write the clone into ``username``'s files; returns its path."""
        data = with_lineage(notebook, slug, version, title)
        for path in candidate_names(source_path):
            try:
                await self.store.create(username, path, data)
            except AlreadyExists:
                continue
            return path
        raise CloneFailed(f"You already have {MAX_ATTEMPTS} copies named like {candidate_names(source_path)[0]} "
                          "at the top of your files; rename or remove some, then clone again.")

    def record(self, publication_id: int, version: int, username: str, path: str) -> None:
        """The clone's row, and the publication's count, in one statement."""
        with self.engine.begin() as connection:
            connection.execute(text(
                "WITH cloned AS (INSERT INTO gallery.clones (publication_id, version, username, path) "
                "  VALUES (:id, :version, :username, :path) RETURNING publication_id) "
                "UPDATE gallery.publications SET clones = clones + 1 WHERE id IN (SELECT publication_id FROM cloned)"),
                {"id": publication_id, "version": version, "username": username, "path": path})
