"""Storage paths: what a path in a member's namespace may be, and its parent and name.

A path is relative to the namespace root, "/"-separated, without leading or trailing "/"; "" is the
root. No segment may be empty, "." or "..", and no path may hold a NUL: whatever the spelling
(percent-encoded, doubled slashes, absolute), a path cannot leave its namespace.
"""

from __future__ import annotations

from appliance.storage.errors import BadPath

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def normalize(raw: str) -> str:
    path = raw.strip("/")
    if not path:
        return ""
    if "\x00" in path:
        raise BadPath("a path may not contain a NUL character.")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise BadPath(f"the path is longer than {MAX_PATH_BYTES} bytes.")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise BadPath(f"invalid path {raw!r}: empty, '.' and '..' segments are not allowed.")
        if len(segment.encode()) > MAX_NAME_BYTES:
            raise BadPath(f"the name {segment[:40]!r}… is longer than {MAX_NAME_BYTES} bytes.")
    return path


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def is_within(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` or below it."""
    return directory == "" or path == directory or path.startswith(directory + "/")


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"
