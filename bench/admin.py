"""The admin console's People with 100,000 accounts.

A real appliance (portal behind the front proxy, PostgreSQL); 100,000 accounts seeded with SQL and vacuumed,
as autovacuum would within a minute (tests/integration/people_data.py). An admin's browser session then
asks, one request after another: the People page (first page by username), the People page searching a
name (ten matches each time, a new one every request), the API's keyset pages walking deep into the sort
by last sign-in, and the API's search; p50/p99 of each against the portal's /healthz in the same run.
Goal: p99 ≤ 100 ms.
Usage: .venv/bin/python bench/admin.py [--requests N] [--accounts N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import Appliance, make_home, reserve_ports, resolve_localhost_names  # noqa: E402
from tests.integration.oauth import Browser, add_user  # noqa: E402
from tests.integration.people_data import percentile, seed_accounts  # noqa: E402

PREFIX = "person"


def timed(client: httpx.Client, path_of: Callable[[int], str], requests: int) -> list[float]:
    for number in range(5):  # warm up
        assert client.get(path_of(number)).status_code == 200, path_of(number)
    latencies = []
    for number in range(requests):
        path = path_of(number)  # before the clock starts: the keyset walk asks for its cursor here
        began = time.perf_counter()
        answer = client.get(path)
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.text[:500])
    return latencies


def keyset_walk(client: httpx.Client) -> Callable[[int], str]:
    """Each call the next page of 50 by last sign-in, newest first, from where the last one ended (the call
    asks for the page once to learn where it ends; the timed request asks for it again)."""
    after = [""]

    def path(number: int) -> str:
        found = f"/api/admin/v1/people?sort=last_login&order=desc&limit=50&after={after[0]}"
        answer = client.get(found).json()
        after[0] = answer["next"] or ""
        return found

    return path


def measure(appliance: Appliance, requests: int, accounts: int) -> None:
    password = add_user(appliance, "bench-admin", "--admin")
    browser = Browser(appliance)
    assert browser.sign_in("bench-admin", password).status_code == 303
    http = browser.http
    paths: list[tuple[str, Callable[[int], str]]] = [
        ("baseline: /healthz", lambda n: "/healthz"),
        ("People page /admin/people", lambda n: "/admin/people"),
        ("People page, searching a name", lambda n: f"/admin/people?q={PREFIX}{n % 10000:04d}1"),
        ("API search ?q=", lambda n: f"/api/admin/v1/people?q=Hopper%20{n + 1}1"),
        ("API keyset pages, deep", keyset_walk(http)),
    ]
    print(f"{'':<34} {'p50 ms':>8} {'p99 ms':>8}   ({requests} requests each, one at a time, "
          f"{accounts:,} accounts)")
    for label, path_of in paths:
        latencies = timed(http, path_of, requests)
        print(f"{label:<34} {statistics.median(latencies):>8.1f} {percentile(latencies, 0.99):>8.1f}")
    Browser.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    resolve_localhost_names()
    appliance = Appliance(make_home(), reserve_ports(4))
    try:
        appliance.up()
        engine = create_engine(appliance.database_url())
        seconds = seed_accounts(engine, PREFIX, args.accounts)
        engine.dispose()
        print(f"seeded and vacuumed {args.accounts:,} accounts in {seconds:.1f} s")
        measure(appliance, args.requests, args.accounts)
    finally:
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
