"""The supervisor's HTTP checks against a real loopback server: a 2xx passes, anything else fails with what
happened, and the session made at the first check is kept and closed at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from appliance.supervisor import checks
from appliance.supervisor.spec import CheckFailed
from tests.harness import reserve_ports


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("sleep", 0)))
        return web.Response(status=int(request.match_info["status"]))

    app = web.Application()
    app.router.add_get("/{status}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = reserve_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_2xx_passes_and_anything_else_says_what_it_met(server: str) -> None:
    await checks.http_ok(f"{server}/204")()
    with pytest.raises(CheckFailed, match=r"GET http://127\.0\.0\.1:\d+/503 answered 503"):
        await checks.http_ok(f"{server}/503")()
    with pytest.raises(CheckFailed, match="TimeoutError"):
        await checks.http_ok(f"{server}/200?sleep=1", timeout_s=0.2)()
    closed = f"http://127.0.0.1:{reserve_ports(1)[0]}/200"
    with pytest.raises(CheckFailed, match="ClientConnectorError"):
        await checks.http_ok(closed)()
    await checks.close_sessions()


async def test_a_check_keeps_its_session_until_the_sessions_are_closed(server: str) -> None:
    check = checks.http_ok(f"{server}/200")
    await check()
    await check()
    assert len(checks._sessions) == 1
    kept = checks._sessions[0]
    await checks.close_sessions()
    assert kept.closed and checks._sessions == []
