"""Readiness and health checks: small async callables that raise CheckFailed."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import psutil

from appliance.supervisor.spec import Check, CheckFailed


def kept_client(**options: object) -> Callable[[], httpx.AsyncClient]:
    """A check's HTTP client, made at its first use and kept (with its connection) for as long as the check
    runs: making one costs ~30 ms of CPU (its TLS context), and a health check runs every few seconds for
    as long as the appliance is up."""
    return functools.cache(lambda: httpx.AsyncClient(trust_env=False, **options))  # type: ignore[arg-type]


def http_ok(url: str, headers: Mapping[str, str] | None = None, timeout_s: float = 2.0) -> Check:
    """Pass when GET ``url`` answers 2xx."""
    client = kept_client(timeout=timeout_s)

    async def check() -> None:
        try:
            response = await client().get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise CheckFailed(f"GET {url}: {type(exc).__name__} {exc}".strip()) from None
        if not response.is_success:
            raise CheckFailed(f"GET {url} answered {response.status_code}")

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
