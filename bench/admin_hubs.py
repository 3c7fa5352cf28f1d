"""The admin console's Hubs page with 2,000 running servers recorded.

A real appliance (portal, PostgreSQL, proxy); 10 hubs registered and heartbeating through discovery with
200 running servers each, 2,000 members assigned, and 8 days of samples every 60 s (the default interval
and retention: 115,200 rows) seeded with SQL. An admin's browser session then asks, one request after
another: the Hubs page, the live state its script polls every 2 s, and the chart's 24-hour and 7-day
history (kept by the portal until the next sample; the query that makes it is timed on its own); p50/p99
of each against the portal's /healthz in the same run.
Usage: .venv/bin/python bench/admin_hubs.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.discovery.registry import Heartbeat  # noqa: E402
from appliance.discovery.samples import HISTORY, WINDOWS, bucket_seconds  # noqa: E402
from appliance.discovery.service import Discovery  # noqa: E402
from appliance.discovery.settings import DiscoverySettings  # noqa: E402
from appliance.home import Home  # noqa: E402
from tests.harness import Appliance, make_home, reserve_ports, resolve_localhost_names  # noqa: E402
from tests.integration.oauth import Browser, add_user  # noqa: E402

HUBS, RUNNING_PER_HUB, DAYS, INTERVAL_S = 10, 200, 8, 60


async def seed_and_beat(appliance: Appliance, ready: threading.Event, stop: threading.Event) -> None:
    """Register the hubs, seed the members and samples, then heartbeat until ``stop``."""
    settings = DiscoverySettings()
    discovery = Discovery(appliance.database_url(), settings, Home(appliance.home), pool_size=2)
    await discovery.open(reap=False)
    registry = discovery.registry
    epochs = {str(i): (await registry.register(str(i), registry.credentials.for_hub(str(i)), "local", "none"))[0]
              for i in range(1, HUBS + 1)}
    async with discovery.pool.connection() as connection:
        await connection.execute(
            "INSERT INTO discovery.assignments (username, hub_id) "
            "SELECT 'member' || g, ((g %% %s) + 1)::text FROM generate_series(1, %s) g", (HUBS, HUBS * RUNNING_PER_HUB))
        await connection.execute("UPDATE discovery.hubs h SET assigned = (SELECT count(*) FROM discovery.assignments "
                                 "a WHERE a.hub_id = h.id)")
        await connection.execute(
            "INSERT INTO discovery.hub_samples (at, hub_id, state, members, active, running, pending, memory_bytes) "
            "SELECT date_bin(make_interval(secs => %s), now(), TIMESTAMPTZ '2000-01-01 00:00:00+00') "
            "- make_interval(secs => %s * s), h::text, 'routable', %s, (random() * %s)::int, "
            "(random() * %s)::int, 0, 150000000::bigint * %s FROM generate_series(1, %s) s, generate_series(1, %s) h "
            "ON CONFLICT DO NOTHING",
            (INTERVAL_S, INTERVAL_S, RUNNING_PER_HUB, RUNNING_PER_HUB, RUNNING_PER_HUB, RUNNING_PER_HUB,
             DAYS * 86400 // INTERVAL_S, HUBS))
        await connection.execute("ANALYZE discovery.hub_samples")
        count = await (await connection.execute("SELECT count(*) FROM discovery.hub_samples")).fetchone()
        computed = {}
        for window in WINDOWS:  # the query a history answer is made from, once per new sample
            took = []
            for _ in range(5):
                began = time.perf_counter()
                await (await connection.execute(HISTORY, {"bucket": bucket_seconds(window, INTERVAL_S),
                                                          "span": WINDOWS[window][0]})).fetchall()
                took.append((time.perf_counter() - began) * 1000)
            computed[window] = statistics.median(took)
    print(f"seeded {HUBS} hubs, {HUBS * RUNNING_PER_HUB:,} members and running servers, "
          f"{count[0] if count else 0:,} samples; the history query itself (run once per new sample, then kept): "
          + ", ".join(f"{window} {ms:.0f} ms" for window, ms in computed.items()))
    ready.set()
    while not stop.is_set():
        for hub_id, epoch in epochs.items():
            await registry.heartbeat(Heartbeat(hub_id, epoch, RUNNING_PER_HUB, 0, active=RUNNING_PER_HUB // 2,
                                               memory_bytes=RUNNING_PER_HUB * 150_000_000))
        await asyncio.sleep(settings.heartbeat_interval_s)
    await discovery.close()


def timed(client: httpx.Client, path: str, requests: int) -> list[float]:
    for _ in range(5):  # warm up
        assert client.get(path).status_code == 200, path
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get(path)
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.text[:500])
    return latencies


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure(appliance: Appliance, requests: int) -> None:
    password = add_user(appliance, "bench-admin", "--admin")
    browser = Browser(appliance)
    assert browser.sign_in("bench-admin", password).status_code == 303
    paths = [("baseline: /healthz", "/healthz"), ("Hubs page /admin/hubs", "/admin/hubs"),
             ("live state (polled every 2 s)", "/api/admin/v1/hubs"),
             ("history, 24 hours", "/api/admin/v1/hubs/history?window=24h"),
             ("history, 7 days", "/api/admin/v1/hubs/history?window=7d")]
    print(f"{'':<32} {'p50 ms':>8} {'p99 ms':>8}   ({requests} requests each, one at a time)")
    for label, path in paths:
        latencies = timed(browser.http, path, requests)
        print(f"{label:<32} {statistics.median(latencies):>8.1f} {p99(latencies):>8.1f}")
    Browser.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    resolve_localhost_names()
    appliance = Appliance(make_home(), reserve_ports(4))
    ready, stop = threading.Event(), threading.Event()
    try:
        appliance.up()
        beating = threading.Thread(target=asyncio.run, args=(seed_and_beat(appliance, ready, stop),), daemon=True)
        beating.start()
        if not ready.wait(120):
            raise SystemExit("the hubs and samples were not seeded within 120 s")
        measure(appliance, args.requests)
        stop.set()
        beating.join(10)
    finally:
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
