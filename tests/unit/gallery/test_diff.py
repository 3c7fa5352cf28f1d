"""diff.py: nbdime's notebook diff told as cells added, removed and modified."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from appliance.gallery import diff
from appliance.gallery.diff import MAX_CELLS, DiffCache, compare, notebook_diff


def cell(kind: str, source: str, cell_id: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
    if kind == "code":
        made.update(execution_count=1, outputs=outputs or [])
    return made


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


BEFORE = notebook(cell("markdown", "# Returns", "a"), cell("code", "x = 1\nprint(x)", "b", [stream("1\n")]),
                  cell("code", "import os\nos.listdir()", "c"), cell("markdown", "The end.", "d"))


def test_added_removed_and_modified_cells_in_the_newer_versions_order() -> None:
    after = notebook(cell("markdown", "# Returns, revised", "a"), cell("code", "x = 2\nprint(x)", "b", [stream("2\n")]),
                     cell("code", "plot(x)\nshow()", "e"), cell("markdown", "The end.", "d"))
    found = notebook_diff(BEFORE, after)
    assert [(c.kind, c.cell_type, c.position) for c in found.changes] == [
        ("modified", "markdown", 1), ("modified", "code", 2), ("added", "code", 3), ("removed", "code", 3)]
    code = found.changes[1]
    assert code.outputs_changed and [(line.kind, line.text) for line in code.lines] == [
        ("remove", "x = 1"), ("add", "x = 2"), ("context", "print(x)")]
    assert found.summary == "1 cell added, 1 cell removed, 2 cells modified"


def test_a_rerun_or_new_cell_ids_are_not_changes() -> None:
    after = copy.deepcopy(BEFORE)
    after["cells"][1]["execution_count"] = 7
    after["cells"][0]["id"] = "zz"
    found = notebook_diff(BEFORE, after)
    assert found.changes == [] and found.summary == "No changes to the cells"


def test_diffs_are_computed_once_per_pair_of_versions() -> None:
    loads: list[int] = []

    def load(version_id: int) -> bytes:
        loads.append(version_id)
        return b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'

    cache = DiffCache(size=1)
    cache.get((1, 2), load)
    cache.get((1, 2), load)
    assert loads == [1, 2]
    cache.get((2, 3), load)
    cache.get((1, 2), load)  # pushed out by the newer pair
    assert loads == [1, 2, 2, 3, 1, 2]


def test_versions_with_too_many_cells_are_not_compared_and_say_so() -> None:
    big = json.dumps(notebook(*(cell("code", f"x = {i}", f"c{i}") for i in range(MAX_CELLS + 1)))).encode()
    found = compare(big, big)
    assert found.changes == [] and found.summary.startswith(f"Not compared here: {MAX_CELLS + 1:,} cells")


def test_a_notebook_nbdime_fails_on_still_gives_the_page_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(before: Any, after: Any) -> None:
        raise AssertionError("cannot diff outputs of different types")  # as nbdime's own asserts do

    monkeypatch.setattr(diff, "notebook_diff", fail)
    plain = json.dumps(notebook()).encode()
    assert compare(plain, plain).summary == "These versions could not be compared"
