"""The console's Software section: the members' shared environments (appliance.envs), and changes to them run as
jobs whose progress the page follows.

A change takes from seconds to minutes (pip downloads and builds), longer than a request should wait: the API
starts a job in a thread and answers 202 with it; the page polls the job for pip's lines until it ends. One job
at a time: the environments' own lock refuses a second, from here or from the command line. Each change is
recorded in the audit log when it ends: what was done, or that it failed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.admin.errors import AdminError
from appliance.audit import Actor, Record
from appliance.envs import EnvError, Environments

KEPT_JOBS = 20
DONE = {"add": "env.packages-added", "remove": "env.packages-removed", "create": "env.created"}  # audit actions
KEPT_LINES = 400  # of each job's output: pip's last lines say what went wrong


@dataclass
class Job:
    id: int
    action: str  # add, remove, create
    env: str
    packages: list[str]
    state: str = "running"  # running, succeeded, failed
    lines: list[str] = field(default_factory=list)
    error: str = ""
    started: float = field(default_factory=time.time)
    ended: float | None = None

    def say(self, line: str) -> None:
        self.lines = [*self.lines[-(KEPT_LINES - 1):], line]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "env": self.env, "packages": self.packages,
                "state": self.state, "lines": self.lines, "error": self.error, "started": self.started,
                "ended": self.ended}


class SoftwareConsole:
    def __init__(self, environments: Environments, record: Record):
        self.environments = environments
        self.record = record
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    async def environments_json(self) -> list[dict[str, Any]]:
        def describe() -> list[dict[str, Any]]:
            return [self.environments.describe(name).to_json() for name in self.environments.names()]

        return await asyncio.to_thread(describe)

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda job: job.id, reverse=True)

    def job(self, job_id: int) -> Job:
        if job_id not in self._jobs:
            raise AdminError(f"there is no job {job_id} (jobs are kept until the portal restarts).", status=404)
        return self._jobs[job_id]

    def start(self, action: str, env: str, packages: list[str], actor: Actor) -> Job:
        """Check the request now (a bad one is refused, not a failed job), then run it as a job."""
        from appliance.envs import check_name, check_requirements

        check_name(env)
        if action != "create":
            check_requirements(packages)
        if any(job.state == "running" for job in self._jobs.values()):
            raise AdminError("another change to the environments is under way.", status=409,
                             hint="Wait for it to end, then try again.")
        job = Job(next(self._ids), action, env, packages)
        self._jobs[job.id] = job
        for old in sorted(self._jobs)[:-KEPT_JOBS]:
            del self._jobs[old]
        work: dict[str, Callable[[], object]] = {
            "add": lambda: self.environments.add(env, packages, job.say),
            "remove": lambda: self.environments.remove(env, packages, job.say),
            "create": lambda: self.environments.create(env, job.say),
        }
        task = asyncio.get_running_loop().create_task(self._run(job, work[action], actor))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, work: Callable[[], object], actor: Actor) -> None:
        try:
            await asyncio.to_thread(work)
            job.state = "succeeded"
        except EnvError as error:
            job.state, job.error = "failed", str(error)
        except Exception as error:  # shown on the page: the job must end, whatever went wrong
            job.state, job.error = "failed", f"{type(error).__name__}: {error}"
        job.ended = time.time()
        detail = {"packages": job.packages, "job": job.id, **({"error": job.error[:500]} if job.error else {})}
        self.record(actor, DONE[job.action] if job.state == "succeeded" else "env.change-failed", job.env, detail)
