"""Start-up time of an initialised home, from `appliance up` to every component healthy.

Baseline, measured in the same run on the same machine: the same three servers (PostgreSQL, the
portal, configurable-http-proxy) started one after another by hand, each waited for by polling its
port or health URL every 10 ms. The ratio shows what supervision adds on top of the servers' own
start-up. Usage: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.config import load_config  # noqa: E402
from appliance.postgres import EmbeddedCluster, find_bin_dir  # noqa: E402
from appliance.proxy import find_proxy_command  # noqa: E402
from appliance.supervisor.control import send_command  # noqa: E402


def reserve_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.01)
    raise TimeoutError("not ready")


def time_appliance(env: dict[str, str], home: Path) -> float:
    began = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "appliance", "up", "--background"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def healthy() -> bool:
        report = send_command(home / "run" / "control.sock", {"command": "status"}, timeout_s=2)
        return bool(report["components"]) and all(c["state"] == "healthy" for c in report["components"])

    wait(healthy)
    elapsed = time.monotonic() - began
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    return elapsed


def time_by_hand(env: dict[str, str], home: Path, ports: dict[str, int]) -> float:
    config = load_config(environ=env)
    cluster = EmbeddedCluster(config.home, config.postgres)
    token = config.home.secret("proxy-token")
    user = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}
    started = []
    began = time.monotonic()
    try:
        started.append(subprocess.Popen(
            [str(find_bin_dir(config.postgres) / "postgres"), "-D", str(cluster.data_dir), "-k",
             str(cluster.socket_dir), "-p", str(ports["pg"]), "-c", "listen_addresses=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **user))  # type: ignore[call-overload]
        wait(lambda: __import__("psycopg").connect(host=str(cluster.socket_dir), port=ports["pg"], user="appliance",
                                                   password=cluster.password, dbname="postgres").close() is None)
        started.append(subprocess.Popen([sys.executable, "-m", "appliance.application.portal"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait(lambda: httpx.get(f"http://127.0.0.1:{ports['portal']}/healthz").status_code == 200)
        started.append(subprocess.Popen(
            [str(find_proxy_command(config.proxy)), "--ip", "127.0.0.1", "--port", str(ports["proxy"]),
             "--api-ip", "127.0.0.1", "--api-port", str(ports["api"])], env={**env, "CONFIGPROXY_AUTH_TOKEN": token},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait(lambda: httpx.get(f"http://127.0.0.1:{ports['api']}/api/routes",
                               headers={"Authorization": f"token {token}"}).status_code == 200)
        return time.monotonic() - began
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGINT if process is started[0] else signal.SIGTERM)
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    parent = Path(tempfile.mkdtemp(prefix="appliance-bench-"))
    os.chmod(parent, 0o755)
    home = parent / "home"
    pg, portal, proxy, api = reserve_ports(4)
    ports = {"pg": pg, "portal": portal, "proxy": proxy, "api": api}
    env = {**os.environ, "APPLIANCE_HOME": str(home), "APPLIANCE_POSTGRES_PORT": str(pg),
           "APPLIANCE_PORTAL_PORT": str(portal), "APPLIANCE_PROXY_PORT": str(proxy),
           "APPLIANCE_PROXY_API_PORT": str(api)}
    try:
        first = time_appliance(env, home)
        print(f"first start (initdb, migrations from empty): {first:.2f} s")
        appliance, by_hand = [], []
        for _ in range(args.runs):
            appliance.append(time_appliance(env, home))
            by_hand.append(time_by_hand(env, home, ports))
        a, b = statistics.median(appliance), statistics.median(by_hand)
        print(f"start-up of an initialised home to all healthy: median {a:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in appliance)})")
        print(f"baseline, the same servers started by hand: median {b:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in by_hand)})")
        print(f"ratio appliance/baseline: {a / b:.2f}")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
