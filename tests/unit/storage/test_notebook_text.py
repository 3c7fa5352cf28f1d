"""notebook_text writes exactly what nbformat.writes does, and validates the same way."""

from __future__ import annotations

import copy
import json
from typing import Any

import nbformat
import pytest
from nbformat import NotebookNode

from appliance.storage.notebook_text import notebook_from_text, notebook_text


def rich_notebook() -> dict[str, Any]:
    """Every part split_lines and strip_transient touch: multi-line sources and outputs, mime bundles
    of text, JSON, SVG and PNG, attachments, trusted marks, signature and orig_nbformat metadata."""
    bundle = {"text/plain": "a\nb\n", "text/html": "<b>x</b>\n<i>y</i>", "application/json": {"k": [1, 2]},
              "image/svg+xml": "<svg>\n</svg>", "image/png": "iVBORw0KGgo=\n", "application/javascript": "a;\nb;"}
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"signature": "sha256:x", "orig_nbformat": 3, "kernelspec": {"name": "python3", "language":
                                                                                  "python", "display_name": "Py"}},
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {"trusted": True}, "source": "# Title\n\nText ü",
             "attachments": {"a.png": {"image/png": "iVBORw0KGgo=\nAAAA"}}},
            {"cell_type": "code", "id": "c1", "execution_count": 3, "metadata": {"trusted": False, "tags": ["t"]},
             "source": "x = 1\nprint(x)\n", "outputs": [
                 {"output_type": "stream", "name": "stdout", "text": "1\n2\n"},
                 {"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": bundle},
                 {"output_type": "display_data", "metadata": {"image/png": {"width": 3}}, "data": bundle},
                 {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["l1", "l2"]}]},
            {"cell_type": "raw", "id": "r1", "metadata": {}, "source": "raw\ntext"},
            {"cell_type": "code", "id": "c2", "execution_count": None, "metadata": {}, "source": "", "outputs": []},
        ],
    }


def long_notebook() -> dict[str, Any]:
    cells = [{**cell, "id": f"{cell['id']}-{n}"} for n in range(50) for cell in rich_notebook()["cells"]]
    return {**rich_notebook(), "cells": cells}


@pytest.mark.parametrize("notebook", [rich_notebook(), nbformat.v4.new_notebook(), long_notebook()])
def test_the_same_text_as_nbformat(notebook: dict[str, Any]) -> None:
    expected = nbformat.writes(nbformat.from_dict(copy.deepcopy(notebook)), version=nbformat.NO_CONVERT)
    assert notebook_text(nbformat.from_dict(copy.deepcopy(notebook)), {}) == expected


def test_an_invalid_notebook_is_written_with_its_validation_error_captured() -> None:
    invalid = rich_notebook()
    invalid["cells"][1]["execution_count"] = "three"
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    text = notebook_text(nbformat.from_dict(copy.deepcopy(invalid)), ours)
    assert text == nbformat.writes(nbformat.from_dict(copy.deepcopy(invalid)), version=nbformat.NO_CONVERT,
                                   capture_validation_error=theirs)
    assert str(ours["ValidationError"]) == str(theirs["ValidationError"])


def test_older_formats_go_through_nbformat() -> None:
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("1")])])
    assert notebook_text(copy.deepcopy(old), {}) == nbformat.writes(old, version=nbformat.NO_CONVERT)


@pytest.mark.parametrize("notebook", [rich_notebook(), nbformat.v4.new_notebook(), long_notebook()])
def test_read_back_as_nbformat_reads_it(notebook: dict[str, Any]) -> None:
    text = nbformat.writes(nbformat.from_dict(copy.deepcopy(notebook)), version=nbformat.NO_CONVERT)
    ours = notebook_from_text(text, {})
    assert ours == nbformat.reads(text, as_version=4)
    assert all(type(node) is NotebookNode for node in walk(ours)) and type(ours) is NotebookNode


def test_an_invalid_notebook_is_read_with_its_validation_error_captured() -> None:
    invalid = rich_notebook()
    invalid["cells"][1]["execution_count"] = "three"
    text = json.dumps(invalid)
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    assert notebook_from_text(text, ours) == nbformat.reads(text, as_version=4, capture_validation_error=theirs)
    assert str(ours["ValidationError"]) == str(theirs["ValidationError"])


def test_older_formats_and_broken_notebooks_are_read_by_nbformat() -> None:
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("1")])])
    text = nbformat.writes(old, version=nbformat.NO_CONVERT)
    ours, theirs = notebook_from_text(text, {}), nbformat.reads(text, as_version=4)
    for cell in ours.cells + theirs.cells:
        cell.pop("id")  # new random ids, given on the upgrade to 4.5
    assert ours == theirs
    with pytest.raises(nbformat.ValidationError, match="missing an expected key"):
        notebook_from_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}), {})
    with pytest.raises(ValueError):
        notebook_from_text("[1, 2", {})


def walk(node: Any) -> Any:
    """Every dict in a parsed notebook."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)
