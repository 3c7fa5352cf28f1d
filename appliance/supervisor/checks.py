"""Readiness and health checks: small async callables that raise CheckFailed."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp
import psutil

from appliance.supervisor.spec import Check, CheckFailed

_sessions: list[aiohttp.ClientSession] = []


def kept_session(timeout_s: float, headers: Mapping[str, str] | None = None) -> Callable[[], aiohttp.ClientSession]:
    """A check's HTTP session, made at its first use (in the supervisor's event loop) and kept, with its
    connection, until ``close_sessions``. Health checks run every few seconds for as long as the appliance
    is up: aiohttp costs ~0.2 ms of CPU a request here, httpx ~1.6 ms (and ~30 ms to make a client)."""

    @functools.cache
    def session() -> aiohttp.ClientSession:
        made = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s), headers=headers,
                                     trust_env=False)
        _sessions.append(made)
        return made

    return session


async def close_sessions() -> None:
    """Close the checks' sessions (the supervisor, as it stops)."""
    while _sessions:
        await _sessions.pop().close()


def http_ok(url: str, headers: Mapping[str, str] | None = None, timeout_s: float = 2.0) -> Check:
    """Pass when GET ``url`` answers 2xx."""
    session = kept_session(timeout_s, headers)

    async def check() -> None:
        try:
            async with session().get(url) as response:
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise CheckFailed(f"GET {url}: {type(exc).__name__} {exc}".strip()) from None
        if not 200 <= status < 300:
            raise CheckFailed(f"GET {url} answered {status}")

    return check


def tcp_open(host: str, port: int, timeout_s: float = 2.0) -> Check:
    """Pass when a TCP connection to host:port succeeds."""

    async def check() -> None:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, asyncio.TimeoutError) as exc:
            raise CheckFailed(f"connect {host}:{port}: {exc or 'timed out'}") from None
        writer.close()
        await writer.wait_closed()

    return check


def heartbeat(path: Path, max_age_s: float) -> Check:
    """Pass when ``path`` was written less than ``max_age_s`` ago by a process that is alive (the file holds
    its pid): a child with no port to ask writes one from its main loop."""

    async def check() -> None:
        try:
            age, pid = time.time() - path.stat().st_mtime, int(path.read_text().strip() or 0)
        except (OSError, ValueError) as exc:
            raise CheckFailed(f"no heartbeat in {path} ({exc})") from None
        if age > max_age_s:
            raise CheckFailed(f"the heartbeat in {path} is {age:.0f} s old (more than {max_age_s:g} s)")
        if not psutil.pid_exists(pid):
            raise CheckFailed(f"the heartbeat in {path} is from process {pid}, which has ended")

    return check
