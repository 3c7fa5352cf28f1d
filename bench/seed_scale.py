"""The seed's scale: an appliance holding what the platform it is modelled on held, against the same appliance
empty, in this run.

100,000 accounts, 65,000 of them with notebooks (220,000 notebooks and 310,000 checkpoints, sizes drawn from a
log-normal distribution around 12 KB, sealed content being random bytes), 65,000 members placed on 10 live
hubs and 10,000 gallery publications, written straight into the tables (bulk COPY). Measured before and after
the seeding, p50/p99 of sequential requests:
- contents, through a member's jupyter_server (RemoteContentsManager, the storage API): save and get a 50 KB
  notebook, list a directory of 20, create a checkpoint;
- discovery: the placement of an assigned member (HubRegistry.placement, what Research asks);
- sign-in: the portal's sign-in form (argon2 included);
- gallery: the gallery page and a search, signed in.
Then each figure's ratio seeded / empty, and the database's size.
Usage: .venv/bin/python bench/seed_scale.py [--requests N] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from contents import notebook_of  # noqa: E402
from gallery import seed as seed_publications  # noqa: E402

from appliance.db.pool import libpq_url  # noqa: E402
from appliance.discovery.registry import Heartbeat  # noqa: E402
from appliance.discovery.service import Discovery  # noqa: E402
from appliance.discovery.settings import DiscoverySettings  # noqa: E402
from appliance.home import Home  # noqa: E402
from tests.harness import Appliance, make_home, mint_storage_token, reserve_ports, resolve_localhost_names  # noqa: E402
from tests.integration.oauth import add_user, browser_client, sign_in  # noqa: E402
from tests.integration.user_server import UserServer  # noqa: E402

ACCOUNTS, WITH_NOTEBOOKS, NOTEBOOKS, CHECKPOINTS, HUBS, PUBLICATIONS = 100_000, 65_000, 220_000, 310_000, 10, 10_000
MEDIAN_BYTES, SIGMA = 12_000, 1.1
Latencies = dict[str, list[float]]
T = TypeVar("T")


def timed(requests: int, call: Callable[[int], object]) -> list[float]:
    samples = []
    for number in range(requests):
        began = time.perf_counter()
        call(number)
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ok(answer: httpx.Response, *codes: int) -> httpx.Response:
    if answer.status_code not in (codes or (200,)):
        raise SystemExit(f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:200]}")
    return answer


def dsn(appliance: Appliance) -> str:
    return libpq_url(appliance.database_url())


@contextlib.contextmanager
def live_hubs(appliance: Appliance) -> Iterator[Callable[[Coroutine[Any, Any, T]], T]]:
    """HUBS hubs registered and heartbeating all along (an event loop on a thread of its own, which also runs
    discovery), and a function that runs a coroutine there: ``run(registry.placement(name))``."""
    settings = DiscoverySettings()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    discovery = Discovery(appliance.database_url(), settings, Home(appliance.home), pool_size=4)
    run(discovery.open(reap=False))
    registry = discovery.registry
    epochs = {str(i): run(registry.register(str(i), registry.credentials.for_hub(str(i)), "local", "none"))[0]
              for i in range(1, HUBS + 1)}

    async def beat() -> None:
        while True:
            for hub_id, epoch in epochs.items():
                await registry.heartbeat(Heartbeat(hub_id, epoch))
            await asyncio.sleep(settings.heartbeat_interval_s)

    beating = asyncio.run_coroutine_threadsafe(beat(), loop)
    run.registry = registry  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        beating.cancel()
        run(discovery.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def measure(appliance: Appliance, server: UserServer, run: Callable[[Any], Any], members: list[str], password: str,
            requests: int) -> Latencies:
    """Every operation's latencies (ms), ``requests`` of each; ``run`` runs discovery's coroutines."""
    contents = httpx.Client(base_url=server.url, headers={"Authorization": f"token {server.token}"}, timeout=60)
    notebook = {"type": "notebook", "content": notebook_of(50_000)}
    found: Latencies = {
        "contents: save 50 KB": timed(requests, lambda n: ok(contents.put(f"/api/contents/probe-{n % 20}.ipynb",
                                                                          json=notebook), 200, 201)),
        "contents: get 50 KB": timed(requests, lambda n: ok(contents.get(f"/api/contents/probe-{n % 20}.ipynb"))),
        "contents: list 20": timed(requests, lambda _: ok(contents.get("/api/contents/"))),
        "contents: checkpoint": timed(requests, lambda n: ok(contents.post(
            f"/api/contents/probe-{n % 20}.ipynb/checkpoints"), 201)),
        "discovery: placement": timed(requests, lambda n: run(run.registry.placement(random.choice(members)))),
    }
    fresh = [browser_client() for _ in range(max(requests // 5, 10))]  # each signs in once, as a new browser
    found["sign-in"] = timed(len(fresh), lambda n: ok(sign_in(
        fresh[n], appliance.public_portal_url, "probe", password), 303))
    browser = fresh.pop()
    for client in fresh:
        client.close()
    found["gallery: page"] = timed(requests, lambda _: ok(browser.get(f"{appliance.public_portal_url}/gallery")))
    found["gallery: search"] = timed(requests, lambda n: ok(browser.get(
        f"{appliance.public_portal_url}/gallery?q={('momentum', 'kalman', 'entropy', 'sharpe')[n % 4]}")))
    browser.close()
    contents.close()
    return found


def seed(appliance: Appliance, password_hash: str, scale: float) -> None:
    """The seed's rows (times ``scale``), by COPY: accounts, namespaces, blobs, files, checkpoints, placements,
    publications."""
    global ACCOUNTS, WITH_NOTEBOOKS, NOTEBOOKS, CHECKPOINTS, PUBLICATIONS  # noqa: PLW0603 - a smoke run's scale
    ACCOUNTS, WITH_NOTEBOOKS, NOTEBOOKS, CHECKPOINTS, PUBLICATIONS = (
        max(10, int(n * scale)) for n in (ACCOUNTS, WITH_NOTEBOOKS, NOTEBOOKS, CHECKPOINTS, PUBLICATIONS))
    rng = random.Random(16)
    pool = [os.urandom(min(2_000_000, int(rng.lognormvariate(0, SIGMA) * MEDIAN_BYTES)) or 1) for _ in range(2_000)]
    began = time.monotonic()
    with psycopg.connect(dsn(appliance), autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity.accounts (username, display_name, email, password_hash) SELECT 'seed' || g, "
            "'Seed Member ' || g, 'seed' || g || '@lab.example.org', %s FROM generate_series(1, %s) g",
            (password_hash, ACCOUNTS))
        cursor.execute("INSERT INTO storage.namespaces (id, username, wrapped_key) SELECT 1000000 + g, 'seed' || g, "
                       "decode(md5(g::text) || md5((-g)::text), 'hex') FROM generate_series(1, %s) g",
                       (WITH_NOTEBOOKS,))
        blobs: list[tuple[int, int, bytes]] = []  # (id, namespace id, sealed content)
        files: list[tuple[int, int, str, str, str, int, int, bytes]] = []
        checkpoints: list[tuple[int, int, int, bytes]] = []
        for number in range(NOTEBOOKS):
            namespace, content = 1_000_001 + number % WITH_NOTEBOOKS, rng.choice(pool)
            blobs.append((10_000_000 + len(blobs), namespace, content))
            files.append((10_000_000 + number, namespace, f"notebook-{number}.ipynb", "", "file", blobs[-1][0],
                          len(content), os.urandom(32)))
        for number in range(CHECKPOINTS):  # one for every notebook, then more for some
            file = files[number] if number < NOTEBOOKS else rng.choice(files)
            content = rng.choice(pool)
            blobs.append((10_000_000 + len(blobs), file[1], content))
            checkpoints.append((file[0], blobs[-1][0], len(content), os.urandom(32)))
        for statement, rows in (
                ("COPY storage.blobs (id, namespace_id, content) FROM STDIN", blobs),
                ("COPY storage.files (id, namespace_id, path, parent, kind, blob_id, size, sha256) FROM STDIN", files),
                ("COPY storage.checkpoints (file_id, blob_id, size, sha256) FROM STDIN", checkpoints)):
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        for table in ("blobs", "files", "checkpoints", "namespaces"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('storage.{table}', 'id'), "
                           f"(SELECT max(id) FROM storage.{table}))")
        cursor.execute("INSERT INTO discovery.assignments (username, hub_id) SELECT 'seed' || g, ((g %% %s) + 1)::text "
                       "FROM generate_series(1, %s) g ON CONFLICT DO NOTHING", (HUBS, WITH_NOTEBOOKS))
        cursor.execute("UPDATE discovery.hubs h SET assigned = (SELECT count(*) FROM discovery.assignments a "
                       "WHERE a.hub_id = h.id)")
    seed_publications(dsn(appliance), PUBLICATIONS, "seed1")
    with psycopg.connect(dsn(appliance), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    print(f"seeded in {time.monotonic() - began:.0f} s", flush=True)


def settle(appliance: Appliance) -> None:
    """What a lab's database is like on a working day rather than just after a 13 GB bulk load: the load's
    dirty pages written out (a checkpoint would otherwise write them during the measurements), and the
    placements in memory, as Research asking for them all day keeps them (the COPY pushed them out)."""
    with psycopg.connect(dsn(appliance), autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        connection.execute("SELECT count(hub_id) FROM discovery.assignments")  # the table's pages
        connection.execute("SET enable_seqscan = off")
        connection.execute("SELECT count(*) FROM discovery.assignments WHERE username >= ''")  # its index's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, help="also write the figures here, as JSON")
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of the seed, for a quick try")
    arguments = parser.parse_args()
    resolve_localhost_names()
    appliance = Appliance(make_home(), reserve_ports(4))
    server = None
    try:
        appliance.up()
        password = add_user(appliance, "probe")
        server = UserServer(f"{appliance.portal_url}/api/storage/v1", mint_storage_token(appliance, "probe", 86400))
        server.start()
        with live_hubs(appliance) as run:
            placed = [f"placed{n}" for n in range(100)]
            for name in placed:
                run(run.registry.placement(name))  # type: ignore[attr-defined]
            measure(appliance, server, run, placed, password, 10)  # warm: pools, caches, JIT of the proxy
            empty = measure(appliance, server, run, placed, password, arguments.requests)
            with psycopg.connect(dsn(appliance)) as connection:
                password_hash = connection.execute(
                    "SELECT password_hash FROM identity.accounts WHERE username = 'probe'").fetchone()[0]  # type: ignore[index]
            seed(appliance, password_hash, arguments.scale)
            settle(appliance)
            seeded_members = [f"seed{n}" for n in range(1, WITH_NOTEBOOKS + 1)]
            measure(appliance, server, run, seeded_members, password, 10)
            seeded = measure(appliance, server, run, seeded_members, password, arguments.requests)
        with psycopg.connect(dsn(appliance)) as connection:
            size = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
            counts = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                      for table in ("identity.accounts", "storage.files", "storage.checkpoints", "storage.blobs")}
    finally:
        if server is not None:
            server.stop()
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)
    print(f"rows: {', '.join(f'{table} {count:,}' for table, count in counts.items())}; database {size / 1e9:.2f} GB")
    print(f"{'':<22} {'empty p50/p99 ms':>18} {'seeded p50/p99 ms':>19} {'ratio p50':>10} {'ratio p99':>10}")
    figures: dict[str, Any] = {}
    for operation, before in empty.items():
        after = seeded[operation]
        figures[operation] = {"empty_p50_ms": statistics.median(before), "empty_p99_ms": p(before, 0.99),
                              "seeded_p50_ms": statistics.median(after), "seeded_p99_ms": p(after, 0.99)}
        f = figures[operation]
        print(f"{operation:<22} {f['empty_p50_ms']:>8.1f} /{f['empty_p99_ms']:>8.1f} {f['seeded_p50_ms']:>9.1f} /"
              f"{f['seeded_p99_ms']:>8.1f} {f['seeded_p50_ms'] / f['empty_p50_ms']:>10.2f} "
              f"{f['seeded_p99_ms'] / f['empty_p99_ms']:>10.2f}")
    if arguments.out:
        arguments.out.write_text(json.dumps({"database_bytes": size, "rows": counts, "operations": figures}, indent=1))


if __name__ == "__main__":
    main()
