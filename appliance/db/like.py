"""Searching text with ILIKE: what a person typed, matched anywhere, its own wildcards taken literally."""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    """``text`` as an ILIKE pattern that matches it anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
