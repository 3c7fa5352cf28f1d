"""Discovery look-ups: where does a member's research happen?

With 100,000 members of whom 65,000 are assigned to 10 live (heartbeating) hubs, 16 concurrent
callers ask HubRegistry.placement() for random assigned members for a few seconds: look-ups per
second and p50/p99 latency. The baseline, measured in the same run on the same pool, is the bare
primary-key read of the assignments table. Then the rate of first placements (new members).
Usage: .venv/bin/python bench/discovery.py [--seconds N] [--callers N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.discovery.registry import Heartbeat  # noqa: E402
from appliance.discovery.service import Discovery  # noqa: E402
from appliance.discovery.settings import DiscoverySettings  # noqa: E402
from appliance.home import Home  # noqa: E402
from tests.harness import Appliance, make_home, reserve_ports  # noqa: E402

MEMBERS, ASSIGNED, HUBS = 100_000, 65_000, 10


async def load(callers: int, seconds: float, ask: Callable[[str], Awaitable[object]],
               names: list[str]) -> tuple[float, list[float]]:
    """Look-ups per second and every look-up's latency (ms) with ``callers`` concurrent callers."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < deadline:
            name = random.choice(names)
            began = time.perf_counter()
            await ask(name)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return len(latencies) / (time.monotonic() - began), latencies


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(appliance: Appliance, seconds: float, callers: int) -> None:
    settings = DiscoverySettings()
    discovery = Discovery(appliance.database_url(), settings, Home(appliance.home), pool_size=callers)
    await discovery.open(reap=False)
    registry = discovery.registry
    epochs = {str(i): (await registry.register(str(i), registry.credentials.for_hub(str(i)), "local", "none"))[0]
              for i in range(1, HUBS + 1)}

    async def heartbeats() -> None:  # the hubs stay alive, as real ones would
        while True:
            for hub_id, epoch in epochs.items():
                await registry.heartbeat(Heartbeat(hub_id, epoch))
            await asyncio.sleep(settings.heartbeat_interval_s)

    beating = asyncio.create_task(heartbeats())
    async with discovery.pool.connection() as connection:
        await connection.execute(
            "INSERT INTO discovery.assignments (username, hub_id) "
            "SELECT 'member' || g, ((g %% %s) + 1)::text FROM generate_series(1, %s) g", (HUBS, ASSIGNED))
        await connection.execute("UPDATE discovery.hubs h SET assigned = (SELECT count(*) FROM discovery.assignments "
                                 "a WHERE a.hub_id = h.id)")
        await connection.execute("ANALYZE discovery.assignments")
    assigned = [f"member{i}" for i in range(1, ASSIGNED + 1)]

    async def bare(name: str) -> None:
        async with discovery.pool.connection() as connection:
            await (await connection.execute("SELECT hub_id FROM discovery.assignments WHERE username = %s",
                                            (name,))).fetchone()

    for _ in range(2000):  # warm up the pool's prepared statements
        await registry.placement(random.choice(assigned))
        await bare(random.choice(assigned))
    base_rate, base_latencies = await load(callers, seconds, bare, assigned)
    rate, latencies = await load(callers, seconds, registry.placement, assigned)
    newcomers = iter(f"member{i}" for i in range(ASSIGNED + 1, MEMBERS + 1))
    new_rate, new_latencies = await load(callers, min(seconds, 3), lambda _: registry.placement(next(newcomers)),
                                         ["-"])
    beating.cancel()
    await discovery.close()

    print(f"{MEMBERS:,} members, {ASSIGNED:,} assigned to {HUBS} hubs, {callers} concurrent callers, {seconds:g} s")
    print(f"{'':<34} {'per second':>11} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'placement() of assigned members':<34} {rate:>11,.0f} {statistics.median(latencies):>8.2f} "
          f"{p(latencies, 0.99):>8.2f}")
    print(f"{'baseline: bare primary-key read':<34} {base_rate:>11,.0f} {statistics.median(base_latencies):>8.2f} "
          f"{p(base_latencies, 0.99):>8.2f}")
    print(f"{'first placements (new members)':<34} {new_rate:>11,.0f} {statistics.median(new_latencies):>8.2f} "
          f"{p(new_latencies, 0.99):>8.2f}")
    print(f"look-up rate / baseline: {rate / base_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--callers", type=int, default=16)
    args = parser.parse_args()
    appliance = Appliance(make_home(), reserve_ports(4))
    try:
        appliance.up()
        asyncio.run(measure(appliance, args.seconds, args.callers))
    finally:
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
