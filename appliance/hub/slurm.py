"""hubs.spawner = "slurm": each member's JupyterLab runs as a Slurm job, through batchspawner's SlurmSpawner.

The job's server reaches the storage API with the same scoped token as any other (notebooks need no shared
filesystem) and is reached through the hub's proxy route, at the host Slurm ran it on. Three things of
batchspawner's are changed here, by subclassing and configuration:

- Its API route. Importing batchspawner appends ``/api/batchspawner`` to JupyterHub's API handlers, and its
  handler sets *every* attribute of the member's spawner that the posted JSON names. The poster is
  batchspawner-singleuser in the member's job, so the member: they could set ``exec_prefix`` or
  ``batch_submit_cmd``, commands the hub runs as root at their next start. ``JobPortHandler`` takes its
  place and accepts the one thing the wrapper sends, the port, while the start waits for it.
- The member's start options, which batchspawner merges into the job script's variables: ignored
  (``ConfigurationOnlyMixin``), but for the server profile their groups allow (``ProfileMixin``).
- The user the job runs as: the member's own system user (``jupyter-<name>``, as the local spawner makes
  it), which the cluster's nodes must know by the same uid; submitted with ``runuser`` from the hub (root),
  where batchspawner's default needs sudo.
"""

from __future__ import annotations

import ipaddress
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from batchspawner import SlurmSpawner as UpstreamSlurmSpawner
from batchspawner.api import BatchSpawnerAPIHandler
from jupyterhub.apihandlers import APIHandler
from jupyterhub.apihandlers import default_handlers as api_handlers
from tornado import web
from traitlets import Unicode, default

from appliance.hub.app import ConfigurationOnlyMixin, MemberAccountMixin, ProfileMixin, StorageEnvMixin

# how often the hub asks Slurm whether each member's job still runs (JupyterHub's default is 30 s): a cancelled or
# expired job is seen within this, at one squeue per running server each time
POLL_INTERVAL_S = 10
BIN = Path(sys.executable).parent  # the appliance's environment, at the same path on the compute nodes


class JobPortHandler(APIHandler):  # type: ignore[misc]
    """POST <hub>/api/batchspawner ``{"port": N}``: the port a member's job serves on, from the job's own server
    token, while its start waits for it. Nothing else is read from the body."""

    @web.authenticated
    def post(self) -> None:
        token = self.get_auth_token()
        user = self.current_user
        spawner = next((s for s in getattr(user, "spawners", {}).values() if token and s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "Only a member's own server, starting as a Slurm job, says its port.")
        body = self.get_json_body()
        port = body.get("port") if isinstance(body, dict) and set(body) == {"port"} else None
        if not isinstance(port, int) or isinstance(port, bool) or not 1024 <= port <= 65535:
            raise web.HTTPError(400, 'Send {"port": N}, N from 1024 to 65535, and nothing else.')
        if spawner.pending != "spawn" or spawner.port:
            raise web.HTTPError(409, "This server's port is set already: it is said once, while it starts.")
        spawner.port = port
        self.set_status(201)
        self.finish({"message": "port set"})


# batchspawner's import appended its own handler; JupyterHub reads this list when it builds its routes, after
# it imported the spawner class (``_log_cls`` in JupyterHub.initialize)
api_handlers[:] = [(path, JobPortHandler if handler is BatchSpawnerAPIHandler else handler)
                   for path, handler in api_handlers]


class ApplianceSlurmSpawner(ProfileMixin, ConfigurationOnlyMixin, MemberAccountMixin, StorageEnvMixin,
                            UpstreamSlurmSpawner):  # type: ignore[misc]
    """A member's server as a Slurm job of their own system user, with the hubs' limits as its request
    (hubs.memory_limit, hubs.cpu_limit_cores) and the [slurm] section's partition and time limit."""

    partition = Unicode("", config=True, help="The partition jobs are submitted to (slurm.partition).")
    time_limit = Unicode("", config=True, help="Each job's time limit (slurm.time_limit).")
    job_ip = Unicode("0.0.0.0", config=True, help="Where the job's server listens (slurm.job_ip).")

    @default("poll_interval")
    def _default_poll_interval(self) -> int:
        return POLL_INTERVAL_S

    @default("exec_prefix")
    def _default_exec_prefix(self) -> str:
        return "runuser -u {username} --" if os.geteuid() == 0 else ""

    @default("batchspawner_singleuser_cmd")
    def _default_wrapper(self) -> str:
        return str(BIN / "batchspawner-singleuser")

    @default("req_username")
    def _default_req_username(self) -> str:
        return self.system_user()

    @default("req_homedir")
    def _default_req_homedir(self) -> str:
        return self.user_env({})["HOME"]

    @default("req_partition")
    def _default_req_partition(self) -> str:
        return self.partition

    @default("req_runtime")
    def _default_req_runtime(self) -> str:
        return self.time_limit

    @default("req_memory")
    def _default_req_memory(self) -> str:
        return f"{self.mem_limit // 1024**2}M" if self.mem_limit else ""

    @default("req_nprocs")
    def _default_req_nprocs(self) -> str:
        return str(math.ceil(self.cpu_limit)) if self.cpu_limit else ""

    def limits_changed(self) -> None:
        self.req_memory, self.req_nprocs = self._default_req_memory(), self._default_req_nprocs()

    def cmd_formatted_for_batch(self) -> str:
        """The job script's command line. batchspawner joins the words with spaces; the appliance's arguments
        carry JSON, with spaces and quotes."""
        return " ".join(shlex.quote(word) for word in [self.batchspawner_singleuser_cmd, *self.cmd, *self.get_args()])

    def get_env(self) -> dict[str, str]:
        """batchspawner's start sets the server's address back to its class default, 0.0.0.0, before it builds
        the job's environment; the job's server listens where slurm.job_ip says (batchspawner-singleuser
        replaces only the port in this URL)."""
        env: dict[str, str] = super().get_env()
        if "JUPYTERHUB_SERVICE_URL" in env:
            env["JUPYTERHUB_SERVICE_URL"] = urlsplit(env["JUPYTERHUB_SERVICE_URL"])._replace(
                netloc=f"{self.job_ip}:0").geturl()
        return env

    def state_gethost(self) -> str:
        """Where the proxy reaches the job's server: the host Slurm ran it on, or the loopback address it
        listens on when jobs run on the hub's own machine."""
        return self.job_ip if ipaddress.ip_address(self.job_ip).is_loopback else str(super().state_gethost())

    async def start(self) -> Any:
        if os.geteuid() == 0:
            self.ensure_member_folders(await self.ensure_system_user())
        return await super().start()
