"""Contents API speed: RemoteContentsManager (storage in PostgreSQL) against jupyter_server's default
file manager, both measured in this run through the same REST API of a real jupyter_server.

For notebooks of 50 KB, 1 MB and 10 MB: save, get, checkpoint create/list/restore and rename; then
listing a 1,000-file directory; then the p50/p99 of saves with 50 concurrent writers (each its own
notebook). The two managers take turns, round by round. Prints each figure for both managers and
the ratio remote/file.
Usage: .venv/bin/python bench/contents.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import Appliance, make_home, mint_storage_token, reserve_ports  # noqa: E402
from tests.integration.user_server import UserServer  # noqa: E402


def notebook_of(size: int) -> dict[str, Any]:
    """A notebook of about ``size`` bytes: code cells with outputs, like real work."""
    cells, total, index = [], 0, 0
    while total < size:
        source = f"x{index} = [i * i for i in range(100)]\nprint(sum(x{index}))\n"
        output = "\n".join(f"line {index}.{j}: " + "0123456789" * 6 for j in range(12))
        cells.append({"cell_type": "code", "execution_count": index, "id": f"c{index}", "metadata": {},
                      "source": source, "outputs": [{"output_type": "stream", "name": "stdout", "text": output}]})
        total += len(source) + len(output) + 120
        index += 1
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


class Client:
    def __init__(self, server: UserServer):
        self.http = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"token {server.token}"},
                                      timeout=300, limits=httpx.Limits(max_connections=100))

    async def ok(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Operation = Callable[[Client], Awaitable[Any]]


async def alternate(clients: dict[str, Client], operation: Operation, rounds: int,
                    results: dict[str, dict[str, list[float]]], name: str) -> None:
    """Time ``operation`` on each manager in turn, round after round: this machine's speed drifts
    (a shared VM), and alternating gives both managers the same conditions."""
    for _ in range(rounds):
        for label, client in clients.items():
            began = time.perf_counter()
            await operation(client)
            results[label].setdefault(name, []).append((time.perf_counter() - began) * 1000)


async def measure(servers: dict[str, UserServer], rounds: int) -> dict[str, dict[str, list[float]]]:
    clients = {label: Client(server) for label, server in servers.items()}
    results: dict[str, dict[str, list[float]]] = {label: {} for label in servers}
    for label, size in (("50KB", 50_000), ("1MB", 1_000_000), ("10MB", 10_000_000)):
        body = {"type": "notebook", "content": notebook_of(size)}
        path = f"/api/contents/bench-{label}.ipynb"
        for client in clients.values():
            await client.ok("PUT", path, json=body)
            await client.ok("POST", path + "/checkpoints")
        names = iter(range(100_000))

        async def rename(client: Client) -> None:
            new = f"/api/contents/bench-{label}-{next(names)}.ipynb"
            await client.ok("PATCH", path, json={"path": new.removeprefix("/api/contents/")})
            await client.ok("PATCH", new, json={"path": path.removeprefix("/api/contents/")})

        async def restore(client: Client) -> None:
            checkpoint = (await client.ok("GET", path + "/checkpoints")).json()[0]["id"]
            await client.ok("POST", f"{path}/checkpoints/{checkpoint}")

        operations: list[tuple[str, Operation]] = [
            (f"save {label}", lambda c: c.ok("PUT", path, json=body)),
            (f"get {label}", lambda c: c.ok("GET", path)),
            (f"checkpoint create {label}", lambda c: c.ok("POST", path + "/checkpoints")),
            (f"checkpoint list {label}", lambda c: c.ok("GET", path + "/checkpoints")),
            (f"checkpoint list + restore {label}", restore),
            (f"rename {label} (there and back)", rename),
        ]
        for name, operation in operations:
            await alternate(clients, operation, rounds, results, name)
    small = {"type": "file", "format": "text", "content": "x" * 200}
    for client in clients.values():
        await client.ok("PUT", "/api/contents/many", json={"type": "directory"})
        for start in range(0, 1000, 50):
            await asyncio.gather(*(client.ok("PUT", f"/api/contents/many/f{i}.txt", json=small)
                                   for i in range(start, start + 50)))
    await alternate(clients, lambda c: c.ok("GET", "/api/contents/many"), rounds, results,
                    "list 1,000-file directory")
    body = {"type": "notebook", "content": notebook_of(50_000)}
    for label, client in clients.items():
        writers: list[float] = []

        async def writer(index: int, client: Client = client, writers: list[float] = writers) -> None:
            for _ in range(max(2, rounds // 2)):
                began = time.perf_counter()
                await client.ok("PUT", f"/api/contents/writer-{index}.ipynb", json=body)
                writers.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(writer(i) for i in range(50)))
        results[label]["save 50KB, 50 concurrent writers"] = writers
    for client in clients.values():
        await client.http.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    appliance = Appliance(make_home(), reserve_ports(4))
    remote = file = None
    try:
        appliance.up()
        remote = UserServer(f"{appliance.portal_url}/api/storage/v1", mint_storage_token(appliance, "bench"))
        file = UserServer("", "")
        file.argv = [arg for arg in file.argv if "contents_manager_class" not in arg and "RemoteContents" not in arg]
        remote.start()
        file.start()
        measured = asyncio.run(measure({"file": file, "remote": remote}, args.rounds))
        by_file, by_remote = measured["file"], measured["remote"]
        print(f"{'operation':<40} {'file p50':>9} {'remote p50':>11} {'ratio':>6} {'file p99':>9} {'remote p99':>11}")
        report = {}
        for name in by_file:
            f50, r50 = statistics.median(by_file[name]), statistics.median(by_remote[name])
            f99, r99 = p(by_file[name], 0.99), p(by_remote[name], 0.99)
            report[name] = {"file_p50_ms": f50, "remote_p50_ms": r50, "ratio_p50": r50 / f50, "file_p99_ms": f99,
                            "remote_p99_ms": r99}
            print(f"{name:<40} {f50:>8.1f}ms {r50:>10.1f}ms {r50 / f50:>6.2f} {f99:>8.1f}ms {r99:>10.1f}ms")
        Path("artifacts").mkdir(exist_ok=True)
        Path("artifacts/bench-contents.json").write_text(json.dumps(report, indent=2))
    finally:
        for server in (remote, file):
            if server is not None:
                server.stop()
                shutil.rmtree(server.workdir, ignore_errors=True)
        appliance.terminate()
        shutil.rmtree(appliance.home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
