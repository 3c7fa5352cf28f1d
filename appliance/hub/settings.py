"""[hubs]: the JupyterHub instances members do their research on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob

SPAWNERS = ("auto", "local", "systemd")
MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?[KMGT]")  # JupyterHub's ByteSpecification, with a unit


@dataclass(frozen=True)
class HubSettings:
    """[hubs] The hubs: how many, where they listen, how they start user servers."""

    count: int = knob(
        2, "How many hubs run. Members are spread over them and moved to a live one when theirs dies. "
           "0 runs none (the portal alone).")
    first_port: int = knob(
        8010, "Loopback TCP port of hub 1's own API; hub N uses first_port + N - 1. Members reach the hubs "
              "through the front proxy, never on these ports.")
    public_url: str = knob(
        "", "The hub origin as members' browsers reach it, e.g. https://hub.lab.example.org. Empty means the "
            "portal's address with the front proxy's port (fine for trying out; a lab uses its own host name).")
    spawner: str = knob(
        "auto", "How hubs start user servers: 'systemd' (a transient unit per server, with limits; needs "
                "systemd as PID 1 and the appliance running as root), 'local' (a process per server, as the "
                "member's own system user when run as root; no isolation), or 'auto' (systemd when it can).")
    idle_timeout_s: int = knob(
        3600, "Seconds a member's server may sit idle (no activity from their browser or kernels) before the "
              "hub's idle culler stops it; their notebooks are safe in the storage, and their next visit starts "
              "a new server. Checked every half of this, at most every 60 s. 0 turns culling off. Takes effect "
              "when the hubs restart.")
    memory_limit: str = knob(
        "2G", "Memory each member's server may use, with its kernels: a number with K, M, G or T (powers of "
              "1024), e.g. 512M or 2G. Empty means no limit. Enforced only by the systemd spawner (the local "
              "one limits nothing); takes effect for servers started after the hubs restart.")
    cpu_limit_cores: float = knob(
        1.0, "CPUs each member's server may use, with its kernels, e.g. 0.5 or 2. 0 means no limit. Enforced "
             "only by the systemd spawner (the local one limits nothing); takes effect for servers started "
             "after the hubs restart.")

    def __post_init__(self) -> None:
        if not 0 <= self.count <= 64:
            raise ConfigError(f"hubs.count = {self.count}: must be between 0 and 64.")
        if self.spawner not in SPAWNERS:
            raise ConfigError(f"hubs.spawner = {self.spawner!r}: must be one of {', '.join(SPAWNERS)}.")
        if self.idle_timeout_s < 0:
            raise ConfigError(f"hubs.idle_timeout_s = {self.idle_timeout_s}: must be 0 (no culling) or more "
                              "seconds, e.g. 3600.")
        if self.memory_limit and not MEMORY.fullmatch(self.memory_limit):
            raise ConfigError(f"hubs.memory_limit = {self.memory_limit!r}: must be a number with K, M, G or T "
                              "(e.g. 512M or 2G), or empty for no limit.")
        if not self.cpu_limit_cores >= 0:  # also refuses NaN
            raise ConfigError(f"hubs.cpu_limit_cores = {self.cpu_limit_cores}: must be 0 (no limit) or a "
                              "positive number of CPUs, e.g. 1 or 0.5.")
