"""Imports put off until first use, for what every process start would otherwise pay for nothing.

jsonschema (through jupyter_events, jupyter_server, jupyterhub and nbformat) imports `rfc3987_syntax` for its
`iri` formats, and that module compiles some 38 lark grammars when it is imported: 0.8-0.9 s of CPU on an idle
2-core box, several seconds on a loaded one, in the portal, the renderer, each hub and each member's server.
None of them checks an `iri` on its start path. The real module is imported at the first check, which then
answers as it always did.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

IRI_GRAMMAR = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Put a stand-in for `rfc3987_syntax` in sys.modules, before jsonschema is imported."""
    if IRI_GRAMMAR in sys.modules or importlib.util.find_spec(IRI_GRAMMAR) is None:
        return
    stand_in = types.ModuleType(IRI_GRAMMAR, "Imports the real rfc3987_syntax at its first use.")

    def is_valid_syntax(*args: Any, **kwargs: Any) -> bool:
        if sys.modules.get(IRI_GRAMMAR) is stand_in:
            del sys.modules[IRI_GRAMMAR]
        return bool(importlib.import_module(IRI_GRAMMAR).is_valid_syntax(*args, **kwargs))

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules[IRI_GRAMMAR] = stand_in
