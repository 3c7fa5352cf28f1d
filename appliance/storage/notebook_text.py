"""A notebook to its .ipynb text and back, as ``nbformat.writes`` and ``nbformat.reads`` do, faster.

The contents manager reads and writes every notebook through these two. nbformat copies the whole
notebook defensively on both ways; here the copies are skipped where the caller's notebook is its own.
Version 4 notebooks take the fast path, older ones (and anything it cannot handle) go through nbformat.
tests/unit/storage/test_notebook_text.py holds the text, the notebooks and the validation errors equal
to nbformat's.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4.nbjson import BytesEncoder
from nbformat.v4.rwbase import rejoin_lines, split_lines, strip_transient
from traitlets.log import get_logger


def notebook_text(nb: NotebookNode, validation_error: dict[str, Any]) -> str:
    """``nbformat.writes(nb, NO_CONVERT)`` without its defensive deep copy, which costs a tenth of a
    save: ``nb`` is the save's own from_dict copy, dropped afterwards. The same validation (a failure
    is captured in ``validation_error``) and the same text."""
    if nb.nbformat != 4:
        return str(nbformat.writes(nb, version=nbformat.NO_CONVERT, capture_validation_error=validation_error))
    _validate(nb, validation_error)
    return json.dumps(strip_transient(split_lines(nb)), cls=BytesEncoder, indent=1, sort_keys=True,
                      separators=(",", ": "), ensure_ascii=False)


def notebook_from_text(text: str, validation_error: dict[str, Any]) -> NotebookNode:
    """``nbformat.reads(text, as_version=4)`` with the parser building the NotebookNodes: nbformat
    parses to plain dicts and then copies them all in ``from_dict``, a third of reading a big notebook.
    The same notebook and the same validation."""
    nb: NotebookNode = json.loads(text, object_hook=NotebookNode)
    try:
        if not isinstance(nb, NotebookNode) or nb.get("nbformat") != 4:
            raise AttributeError("not nbformat 4")
        nb = strip_transient(rejoin_lines(nb))
    except AttributeError:  # other versions, and nbformat's own error for a missing key
        nb = nbformat.reads(text, as_version=4, capture_validation_error=validation_error)
        return nb
    _validate(nb, validation_error)
    return nb


def _validate(nb: NotebookNode, validation_error: dict[str, Any]) -> None:
    """nbformat's validation as its reads and writes do it: an invalid notebook is logged and its error
    captured, not raised."""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        get_logger().error("Notebook JSON is invalid: %s", error)
        validation_error["ValidationError"] = error
