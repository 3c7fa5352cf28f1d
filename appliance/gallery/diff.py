"""What changed between two versions of a publication: nbdime's notebook diff, told as readable HTML.

nbdime (``diff_notebooks``) matches the cells of the two versions, which a plain text diff of the
JSON cannot do; this module walks its answer into a list of cells added, removed and modified, each
modified one with a line diff of its source and whether its outputs changed, and renders that list
with every piece of notebook text escaped (the template does the escaping: nothing here is markup).

Versions never change, so a diff is computed once per pair and kept (``DiffCache``).
"""

from __future__ import annotations

import difflib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nbformat

log = logging.getLogger("appliance.gallery")
UNCHANGED_KEYS = {"id", "execution_count"}  # a re-run or a cell id is not a change worth telling
MAX_LINES = 400  # of one cell's source diff; the rest is summarised
MAX_CHANGES = 60  # cells told on the page; the summary counts them all
# nbdime matches cells in quadratic time (2,000 cells: 3.5 s here): past this, versions are not compared
MAX_CELLS = 800


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove", "context" or "gap"
    text: str


@dataclass(frozen=True)
class CellChange:
    kind: str  # "added", "removed" or "modified"
    cell_type: str
    position: int  # 1-based, in the newer version (in the older one for a removed cell)
    lines: list[DiffLine] = field(default_factory=list)
    outputs_changed: bool = False
    metadata_changed: bool = False


@dataclass(frozen=True)
class NotebookDiff:
    changes: list[CellChange]
    metadata_changed: bool
    not_compared: str | None = None  # why the versions were not compared

    @property
    def shown(self) -> list[CellChange]:
        return self.changes[:MAX_CHANGES]

    @property
    def summary(self) -> str:
        if self.not_compared:
            return self.not_compared
        counts = {kind: sum(1 for change in self.changes if change.kind == kind)
                  for kind in ("added", "removed", "modified")}
        parts = [f"{n} cell{'s' if n != 1 else ''} {kind}" for kind, n in counts.items() if n]
        if not parts:
            return "Notebook metadata changed" if self.metadata_changed else "No changes to the cells"
        return ", ".join(parts)


def source_of(cell: dict[str, Any]) -> list[str]:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.splitlines()


def source_lines(before: list[str], after: list[str]) -> list[DiffLine]:
    """A unified diff of two sources with two lines of context; gaps marked."""
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_grouped_opcodes(2):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("context", line) for line in before[i1:i2])
                continue
            lines.extend(DiffLine("remove", line) for line in before[i1:i2])
            lines.extend(DiffLine("add", line) for line in after[j1:j2])
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], DiffLine("gap", f"… and {len(lines) - MAX_LINES} more lines")]
    return lines


def _cell_change(before: dict[str, Any], after: dict[str, Any], cell_diff: list[dict[str, Any]],
                 position: int) -> CellChange | None:
    keys = {entry["key"] for entry in cell_diff} - UNCHANGED_KEYS
    if not keys:
        return None
    lines = source_lines(source_of(before), source_of(after)) if "source" in keys else []
    return CellChange("modified", str(after.get("cell_type", "code")), position, lines,
                      outputs_changed="outputs" in keys, metadata_changed="metadata" in keys or "cell_type" in keys)


def _cells_diff(diff: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return next((entry["diff"] for entry in diff if entry["key"] == "cells" and entry["op"] == "patch"), [])


def notebook_diff(before: dict[str, Any], after: dict[str, Any]) -> NotebookDiff:
    """nbdime's diff of two notebooks (parsed .ipynb JSON), as cell changes in the newer one's order."""
    from nbdime import diff_notebooks  # ~1 s to import: only when a diff is first asked for

    # nbdime reads outputs by attribute (output.output_type): NotebookNodes, not plain dicts
    nodes = [nbformat.from_dict(notebook) for notebook in (before, after)]  # type: ignore[no-untyped-call]
    diff = diff_notebooks(*nodes)
    old_cells, new_cells = before.get("cells", []), after.get("cells", [])
    ops: dict[int, list[dict[str, Any]]] = {}
    for entry in _cells_diff(diff):
        ops.setdefault(entry["key"], []).append(entry)
    changes: list[CellChange] = []
    j = 0  # the position in the newer version, walking the older one's cells in order
    removed_until = -1
    for i in range(len(old_cells) + 1):
        for entry in ops.get(i, []):
            if entry["op"] == "addrange":
                for cell in entry["valuelist"]:
                    changes.append(CellChange("added", str(cell.get("cell_type", "code")), j + 1,
                                              source_lines([], source_of(cell))))
                    j += 1
        if i == len(old_cells):
            break
        patch = next((entry for entry in ops.get(i, []) if entry["op"] == "patch"), None)
        removal = next((entry for entry in ops.get(i, []) if entry["op"] == "removerange"), None)
        if removal is not None:
            removed_until = max(removed_until, i + removal["length"] - 1)
        if i <= removed_until:
            changes.append(CellChange("removed", str(old_cells[i].get("cell_type", "code")), i + 1,
                                      source_lines(source_of(old_cells[i]), [])))
            continue
        if patch is not None and j < len(new_cells):
            change = _cell_change(old_cells[i], new_cells[j], patch["diff"], j + 1)
            if change is not None:
                changes.append(change)
        j += 1
    metadata_changed = any(entry["key"] == "metadata" for entry in diff)
    return NotebookDiff(changes, metadata_changed)


def compare(before: bytes, after: bytes) -> NotebookDiff:
    """The diff of two stored versions, or why they were not compared (too many cells, or nbdime failed
    on them: a page must show either way)."""
    old, new = json.loads(before), json.loads(after)
    cells = max(len(old.get("cells", [])), len(new.get("cells", [])))
    if cells > MAX_CELLS:
        return NotebookDiff([], False, f"Not compared here: {cells:,} cells (at most {MAX_CELLS:,}); "
                                       "download both versions to compare them")
    try:
        return notebook_diff(old, new)
    except Exception as error:  # nbdime on a notebook it cannot read
        log.warning("versions not compared: %s: %s", type(error).__name__, error)
        return NotebookDiff([], False, "These versions could not be compared")


class DiffCache:
    """Diffs by (older version id, newer version id): versions are immutable, so a diff never goes stale.
    One diff is computed at a time: a first view of many pages at once waits rather than fills every
    worker thread with nbdime."""

    def __init__(self, size: int = 64):
        self.size = size
        self._diffs: OrderedDict[tuple[int, int], NotebookDiff] = OrderedDict()
        self._lock = threading.Lock()
        self._computing = threading.Lock()

    def get(self, key: tuple[int, int], load: Callable[[int], bytes]) -> NotebookDiff:
        """The diff of versions ``key`` (older id, newer id); ``load`` reads a version's .ipynb by id."""
        known = self._known(key)
        if known is not None:
            return known
        with self._computing:
            known = self._known(key)  # computed while this call waited
            if known is not None:
                return known
            found = compare(load(key[0]), load(key[1]))
            with self._lock:
                self._diffs[key] = found
                while len(self._diffs) > self.size:
                    self._diffs.popitem(last=False)
        return found

    def _known(self, key: tuple[int, int]) -> NotebookDiff | None:
        with self._lock:
            if key in self._diffs:
                self._diffs.move_to_end(key)
            return self._diffs.get(key)
