"""How much memory a member's server uses, for the portal (the member's Research page, the admin console).

The hub runs the spawner, so it alone knows where a server lives: the local spawner's process (with the
kernels it started, its descendants), or the systemd spawner's unit (the unit's own accounting, kernels
included). The portal asks with its service token (``read:servers``); a member's own browser never needs
to, and cannot make the hub read anything but the one server the portal names.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web

MEMORY_PATH = r"appliance/memory/([^/]+)"  # under the hub's API: .../hub/api/appliance/memory/<user>


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, from Linux's list of each thread's children (/proc/<pid>/task/<tid>/children),
    which psutil's ``children()`` finds by reading every process on the machine instead: a hub measures its
    tree every few seconds, on a box that may run thousands of processes."""
    found: list[int] = []
    parents = [pid]
    while parents:
        for listing in Path(f"/proc/{parents.pop()}/task").glob("*/children"):
            try:
                children = [int(child) for child in listing.read_text().split()]
            except OSError:  # the thread or the process ended meanwhile
                continue
            found += children
            parents += children
    return found


def process_tree_bytes(pid: int) -> int | None:
    """Resident memory of a process and all its descendants; None when the process is gone."""
    try:
        total = psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None
    for child in descendants(pid):
        try:
            total += psutil.Process(child).memory_info().rss
        except psutil.Error:  # a kernel that ended while we counted
            continue
    return total


async def unit_bytes(unit: str) -> int | None:
    """systemd's accounting of a unit's memory (MemoryCurrent); None when the unit does not report it."""
    process = await asyncio.create_subprocess_exec(
        "systemctl", "show", "--property=MemoryCurrent", "--value", f"{unit}.service",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await process.communicate()
    value = out.decode().strip()
    return int(value) if value.isdigit() else None


async def server_bytes(spawner: Any) -> int | None:
    """The memory a running server uses, whichever spawner runs it; None if it is not running."""
    if not spawner.active:
        return None
    unit = getattr(spawner, "unit_name", "")
    if unit:
        return await unit_bytes(unit)
    pid = getattr(spawner, "pid", 0)
    return await asyncio.to_thread(process_tree_bytes, pid) if pid else None


class ServerMemoryHandler(APIHandler):  # type: ignore[misc]
    """``{"bytes": N}`` for the member's default server (null when it is not running, or not measured);
    its memory limit too (``limit_bytes``, null without one)."""

    @needs_scope("read:servers")  # type: ignore[untyped-decorator]
    async def get(self, user_name: str) -> None:
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"No member {user_name} on this hub.")
        spawner = user.spawners.get("")
        used = await server_bytes(spawner) if spawner is not None else None
        limit = getattr(spawner, "mem_limit", None) if spawner is not None else None
        self.write({"bytes": used, "limit_bytes": limit or None})
