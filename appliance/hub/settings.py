"""[hubs]: the JupyterHub instances members do their research on."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob

SPAWNERS = ("auto", "local", "systemd")


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

    def __post_init__(self) -> None:
        if not 0 <= self.count <= 64:
            raise ConfigError(f"hubs.count = {self.count}: must be between 0 and 64.")
        if self.spawner not in SPAWNERS:
            raise ConfigError(f"hubs.spawner = {self.spawner!r}: must be one of {', '.join(SPAWNERS)}.")
