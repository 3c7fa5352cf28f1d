"""Many members at once, in the manner of hubtraf: the appliance and plain JupyterHub under the same ramp,
on this box, in the same run, until each reaches its ceiling.

A simulated member does what a person does, over HTTP and the kernel's websocket as JupyterLab would: sign in
at the portal, open Research (placement), the OAuth dance into their hub, spawn, start a kernel and run code,
then stays active (runs code and saves a notebook every --think seconds) until the ramp ends, and stops their
server. Against plain JupyterHub (bench/plain_jupyterhub.py: its own login form, SimpleLocalProcessSpawner,
its own proxy) the same member signs in at the hub's form instead of the portal.

The ramp adds --step members a stage, their arrivals spread over --spread seconds, while those already in keep
working. After each stage: the active members, p50/p95/p99 of each step and of sign-in → kernel ready for the
stage's arrivals, errors, and the box's memory and CPU (sampled every second throughout). The ceiling is the
number of active members at which p95 sign-in → kernel ready passes 30 s, an error appears, or less than
--memory-floor GB stays available; --max ends the ramp first.
Usage: .venv/bin/python bench/load.py [--step 10] [--max 150] [--spread 30] [--think 10] [--hubs 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import io
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_jupyterhub import side_by_side  # noqa: E402

from tests.harness import Appliance  # noqa: E402
from tests.integration.lab import server_url  # noqa: E402
from tests.integration.oauth import browser_client, follow, oauth_dance, sign_in  # noqa: E402

CEILING_P95_S = 30.0
ARRIVAL = ("sign-in", "research", "oauth", "spawn", "kernel", "execute")  # sign-in → kernel ready
CODE = "import math; print(sum(math.sqrt(i) for i in range(200_000)))"
NOTEBOOK = {"type": "notebook", "content": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [], "source": CODE}]}}


class Refused(Exception):
    """A step answered what a member would see as an error."""


@dataclass
class Visit:
    """One member's way in, step by step, and what went wrong if something did."""

    member: str
    steps: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.steps[name] = time.perf_counter() - began

    @property
    def kernel_ready_s(self) -> float:
        return sum(self.steps.get(name, 0.0) for name in ARRIVAL)


class Kernel:
    """A kernel on the member's server, driven over its websocket as JupyterLab drives it."""

    def __init__(self, browser: httpx.Client, server: str):
        self.browser, self.server = browser, server
        cookie = browser.build_request("GET", f"{server}/api/kernels").headers.get("cookie", "")
        self.xsrf = next((value for name, _, value in (part.strip().partition("=") for part in cookie.split(";"))
                          if name == "_xsrf"), "")
        started = browser.post(f"{server}/api/kernels", headers={"X-XSRFToken": self.xsrf}, json={"name": "python3"})
        if started.status_code != 201:
            raise Refused(f"starting a kernel answered {started.status_code}: {started.text[:200]}")
        self.url = f"{server}/api/kernels/{started.json()['id']}"
        self.socket = websocket.create_connection(f"ws{self.url.removeprefix('http')}/channels", timeout=120,
                                                  header=[f"Cookie: {cookie}"])

    def execute(self, code: str = CODE, timeout_s: float = 120) -> None:
        request = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": request, "msg_type": "execute_request", "username": "", "version": "5.3",
                       "session": uuid.uuid4().hex},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False}}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != request:
                continue
            if message["msg_type"] == "error":
                raise Refused(f"the code raised {message['content']['ename']}")
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return
        raise Refused(f"the kernel did not finish within {timeout_s} s")

    def save(self, path: str) -> None:
        saved = self.browser.put(f"{self.server}/api/contents/{path}", headers={"X-XSRFToken": self.xsrf},
                                 json=NOTEBOOK)
        if saved.status_code not in (200, 201):
            raise Refused(f"saving answered {saved.status_code}: {saved.text[:200]}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()
            self.browser.delete(self.url, headers={"X-XSRFToken": self.xsrf})


class Member:
    """A simulated member: ``arrive`` (sign-in → kernel ready, every step timed in ``visit``), ``work`` (run code
    and save, once; the same on either side), ``leave`` (stop the server)."""

    name: str
    visit: Visit
    kernel: Kernel | None
    browser: httpx.Client

    def spawn_and_run(self, spawn_url: str, server_of: Callable[[httpx.Response], str]) -> None:
        """Follow the hub's spawn to JupyterLab, start a kernel there and run code: the way in's last steps."""
        with self.visit.step("spawn"):
            landed = follow(self.browser, spawn_url, timeout=300, poll_s=0.5)
            if landed.status_code != 200:
                raise Refused(f"the spawn ended on {landed.status_code}")
        with self.visit.step("kernel"):
            self.kernel = Kernel(self.browser, server_of(landed))
        with self.visit.step("execute"):
            self.kernel.execute()

    def arrive(self) -> None:
        raise NotImplementedError

    def leave(self) -> None:
        raise NotImplementedError

    def work(self) -> None:
        assert self.kernel is not None
        with self.visit.step("work-execute"):
            self.kernel.execute()
        with self.visit.step("save"):
            self.kernel.save(f"load-{self.name}.ipynb")


class ApplianceMember(Member):
    def __init__(self, appliance: Appliance, name: str, password: str):
        self.appliance, self.name, self.password = appliance, name, password
        self.visit = Visit(name)
        self.browser = browser_client(timeout=300)
        self.portal = appliance.public_portal_url
        self.kernel: Kernel | None = None
        self.csrf = ""

    def arrive(self) -> None:
        visit = self.visit
        with visit.step("sign-in"):
            if sign_in(self.browser, self.portal, self.name, self.password).status_code != 303:
                raise Refused("the portal refused the sign-in")
        with visit.step("research"):
            research = self.browser.get(f"{self.portal}/research")
            carried = re.search(r'data-csrf="([^"]+)"', research.text)  # the page's token, for its own calls
            if research.status_code != 200 or carried is None:
                raise Refused(f"Research answered {research.status_code}")
            self.csrf = carried.group(1)
            placement = self.browser.get(f"{self.portal}/api/discovery/v1/me")
            if placement.status_code != 200:
                raise Refused(f"placement answered {placement.status_code}: {placement.text[:200]}")
        hub = f"{self.appliance.proxy_url}/hubs/{placement.json()['hub']}"
        with visit.step("oauth"):
            oauth_dance(self.portal, hub, self.name, self.password, self.browser)
        self.spawn_and_run(f"{hub}/hub/spawn", server_url)

    def leave(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
        with self.visit.step("stop"):
            stopped = self.browser.post(f"{self.portal}/api/research/v1/server/stop",
                                        headers={"X-CSRF-Token": self.csrf, "Origin": self.portal})
            if stopped.status_code >= 400:
                raise Refused(f"stopping answered {stopped.status_code}: {stopped.text[:200]}")
        self.browser.close()


class PlainMember(Member):
    def __init__(self, url: str, name: str):
        self.url, self.name = url, name
        self.visit = Visit(name)
        self.browser = httpx.Client(follow_redirects=False, timeout=300)
        self.kernel: Kernel | None = None

    def arrive(self) -> None:
        visit = self.visit
        with visit.step("sign-in"):
            self.browser.get(f"{self.url}/hub/login")
            signed = self.browser.post(f"{self.url}/hub/login", data={
                "username": self.name, "password": "x", "_xsrf": self.browser.cookies.get("_xsrf") or ""})
            if signed.status_code != 302:
                raise Refused(f"the hub's login answered {signed.status_code}")
        self.spawn_and_run(f"{self.url}/hub/spawn", lambda _: f"{self.url}/user/{self.name}")

    def leave(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
        with self.visit.step("stop"):
            jar = self.browser.cookies.jar
            hub_xsrf = next((c.value or "" for c in jar if c.name == "_xsrf" and c.path == "/hub/"), "")
            self.browser.delete(f"{self.url}/hub/api/users/{self.name}/server", headers={"X-XSRFToken": hub_xsrf})
        self.browser.close()


@dataclass
class Sample:
    at: float
    cpu_percent: float
    used_bytes: int
    available_bytes: int
    active: int


class Sampler:
    """The box's CPU and memory every second, with the number of active members then."""

    def __init__(self, active: list[Member]):
        self.active, self.samples = active, list[Sample]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        psutil.cpu_percent(None)
        while not self._stop.wait(1.0):
            memory = psutil.virtual_memory()
            self.samples.append(Sample(time.monotonic(), psutil.cpu_percent(None), memory.used, memory.available,
                                       len(self.active)))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Stage:
    active: int
    arrivals: list[Visit]
    errors: list[str]
    used_gb: float
    available_gb: float
    cpu_percent: float

    def past_ceiling(self, memory_floor_gb: float) -> str | None:
        """Why this stage is past the ceiling, if it is."""
        if self.errors:
            return f"{len(self.errors)} error(s)"
        if self.p(0.95) > CEILING_P95_S:
            return f"p95 {self.p(0.95):.1f} s > {CEILING_P95_S:.0f} s"
        if self.available_gb < memory_floor_gb:
            return f"{self.available_gb:.1f} GB available"
        return None

    def to_json(self) -> dict[str, object]:
        return {"active": self.active, "arrivals": len(self.arrivals), "errors": self.errors,
                "used_gb": self.used_gb, "available_gb": self.available_gb, "cpu_percent": self.cpu_percent,
                **{f"p{round(q * 100)}_s": self.p(q) for q in (0.5, 0.95, 0.99)},
                "steps_p50_s": {name: self.p(0.5, name) for name in ARRIVAL}}

    def p(self, q: float, step: str | None = None) -> float:
        values = sorted(v.steps[step] if step else v.kernel_ready_s for v in self.arrivals
                        if v.error is None and (step is None or step in v.steps))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class Ramp:
    """Adds members stage by stage while those in keep working; stops at the ceiling."""

    def __init__(self, make: Callable[[int], Member], step: int, most: int, spread_s: float, think_s: float,
                 memory_floor_gb: float):
        self.make, self.step, self.most = make, step, most
        self.spread_s, self.think_s, self.memory_floor_gb = spread_s, think_s, memory_floor_gb
        self.active: list[Member] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2 * most + 8)

    def _arrive(self, member: Member, delay_s: float) -> None:
        time.sleep(delay_s)
        try:
            member.arrive()
        except Exception as error:  # a member sees it: counted, and the ramp stops at this stage
            member.visit.error = f"{type(error).__name__}: {error}"[:300]
            return
        with self._lock:
            self.active.append(member)
        self.pool.submit(self._keep_working, member)

    def _keep_working(self, member: Member) -> None:
        while not self._stop.wait(self.think_s):
            try:
                member.work()
            except Exception as error:
                with self._lock:
                    self.errors.append(f"{member.name} working: {type(error).__name__}: {error}"[:300])

    def run(self, sampler: Sampler, report: Callable[[Stage], None]) -> list[Stage]:
        stages: list[Stage] = []
        made = 0
        try:
            while made < self.most:
                batch = [self.make(made + index) for index in range(min(self.step, self.most - made))]
                made += len(batch)
                began = time.monotonic()
                futures = [self.pool.submit(self._arrive, member, self.spread_s * index / len(batch))
                           for index, member in enumerate(batch)]
                concurrent.futures.wait(futures)
                window = [s for s in sampler.samples if s.at >= began] or sampler.samples[-1:]
                with self._lock:
                    errors = [m.visit.error for m in batch if m.visit.error] + self.errors
                    self.errors = []
                stage = Stage(len(self.active), [m.visit for m in batch], [e for e in errors if e],
                              max(s.used_bytes for s in window) / 1e9, min(s.available_bytes for s in window) / 1e9,
                              statistics.fmean(s.cpu_percent for s in window))
                stages.append(stage)
                report(stage)
                if stage.past_ceiling(self.memory_floor_gb):
                    break
        finally:
            self._stop.set()
            list(self.pool.map(leave_quietly, list(self.active)))
            self.pool.shutdown(wait=True)
        return stages


def leave_quietly(member: Member) -> None:
    with contextlib.suppress(Exception):
        member.leave()


def print_stage(label: str) -> Callable[[Stage], None]:
    def show(stage: Stage) -> None:
        steps = " ".join(f"{name} {stage.p(0.5, name):.2f}/{stage.p(0.95, name):.2f}" for name in ARRIVAL
                         if any(name in visit.steps for visit in stage.arrivals))  # plain hubs have no portal
        print(f"  {label:<9} active {stage.active:>4}: sign-in→kernel p50 {stage.p(0.5):6.2f} p95 {stage.p(0.95):6.2f} "
              f"p99 {stage.p(0.99):6.2f} s | errors {len(stage.errors)} | used {stage.used_gb:5.1f} GB, available "
              f"{stage.available_gb:5.1f} GB, CPU {stage.cpu_percent:3.0f}% | steps p50/p95 {steps}", flush=True)
        for error in stage.errors[:5]:
            print(f"      error: {error}", flush=True)
    return show


def accounts(appliance: Appliance, count: int, prefix: str) -> list[tuple[str, str]]:
    """``count`` new members of the appliance with passwords, made in one import."""
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["username", "name", "email", "groups", "admin"])
    names = [f"{prefix}{number:04d}" for number in range(count)]
    for name in names:
        writer.writerow([name, name, f"{name}@lab.example.org", "", ""])
    with tempfile.NamedTemporaryFile("w", suffix=".csv") as file:
        file.write(rows.getvalue())
        file.flush()
        imported = appliance.cli("users", "import", file.name, "--apply", "--password", "--json", timeout=600)
    assert imported.returncode == 0, imported.stderr
    passwords = {row["username"]: row["person"]["password"] for row in json.loads(imported.stdout)["rows"]}
    return [(name, passwords[name]) for name in names]


def ceiling(stages: list[Stage], memory_floor_gb: float) -> str:
    held = [stage.active for stage in stages if not stage.past_ceiling(memory_floor_gb)]
    why = stages[-1].past_ceiling(memory_floor_gb)
    return f"{max(held, default=0)} active members" + (f" (then {why})" if why else " (--max reached first)")


def at(stages: list[Stage], active: int) -> Stage | None:
    return next((stage for stage in stages if stage.active >= active and not stage.errors), None)


def settle(quiet_percent: float = 25, timeout_s: float = 300) -> None:
    """Until the box's CPU has stayed under ``quiet_percent`` for 5 s: the side before stops its members'
    servers after its ramp, and the next side's first stage should not pay for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and psutil.cpu_percent(5.0) >= quiet_percent:
        pass


# what a false fail-over leaves in the appliance's logs: a hub fencing itself, discovery releasing members of a
# hub it judged dead, a heartbeat that did not reach the registry
FALSE_ALARMS = {"fences": "fencing hub", "releases": "member(s) of dead hub(s)",
                "heartbeats not delivered": "heartbeat not delivered"}


def false_alarms(appliance: Appliance) -> dict[str, int]:
    """How often each sign of a false fail-over appears in the appliance's logs (the ramp moves nobody)."""
    logs = [path.read_text(errors="replace") for path in (appliance.home / "logs").glob("*.log")]
    return {name: sum(log.count(marker) for log in logs) for name, marker in FALSE_ALARMS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=10, help="members added a stage")
    parser.add_argument("--max", type=int, default=150, help="the most members, whatever the ceiling")
    parser.add_argument("--spread", type=float, default=30, help="seconds over which a stage's members arrive")
    parser.add_argument("--think", type=float, default=10, help="seconds between an active member's runs and saves")
    parser.add_argument("--hubs", type=int, default=2)
    parser.add_argument("--memory-floor", type=float, default=1.0, help="GB that must stay available")
    parser.add_argument("--out", type=Path, help="also write the stages and the box's samples here, as JSON "
                                                  "(bench/report.py draws docs/performance.md from it)")
    arguments = parser.parse_args()
    prefix = f"l{uuid.uuid4().hex[:4]}"
    results: dict[str, list[Stage]] = {}
    samples: dict[str, list[Sample]] = {}
    with side_by_side(arguments.hubs) as (appliance, plain_url):
        members = accounts(appliance, arguments.max, prefix)
        runs: dict[str, Callable[[int], Member]] = {
            "appliance": lambda n: ApplianceMember(appliance, *members[n]),
            "plain": lambda n: PlainMember(plain_url, f"{prefix}p{n:04d}"),
        }
        for label, make in runs.items():
            settle()
            print(f"{label}: +{arguments.step} members a stage over {arguments.spread:.0f} s, up to {arguments.max}",
                  flush=True)
            ramp = Ramp(make, arguments.step, arguments.max, arguments.spread, arguments.think, arguments.memory_floor)
            with Sampler(ramp.active) as sampler:
                results[label] = ramp.run(sampler, print_stage(label))
            samples[label] = sampler.samples
        alarms = false_alarms(appliance)
    print("false fail-over signs in the appliance's logs:", ", ".join(f"{name} {n}" for name, n in alarms.items()))
    print("ceilings:", ", ".join(f"{label} {ceiling(stages, arguments.memory_floor)}"
                                 for label, stages in results.items()))
    for active in (25, 50):
        ours, theirs = at(results["appliance"], active), at(results["plain"], active)
        if ours and theirs:
            print(f"p95 sign-in → kernel ready at {active}+ active: appliance {ours.p(0.95):.2f} s, plain "
                  f"{theirs.p(0.95):.2f} s, ratio {ours.p(0.95) / theirs.p(0.95):.2f}x")
    if arguments.out:
        arguments.out.write_text(json.dumps({
            "settings": {key: value for key, value in vars(arguments).items() if key != "out"},
            "cpus": psutil.cpu_count(), "memory_gb": psutil.virtual_memory().total / 1e9,
            "ceilings": {label: ceiling(stages, arguments.memory_floor) for label, stages in results.items()},
            "false_alarms": alarms,
            "runs": {label: {"stages": [stage.to_json() for stage in stages],
                             "samples": [vars(sample) for sample in samples[label]]}
                     for label, stages in results.items()}}, indent=1))


if __name__ == "__main__":
    main()
