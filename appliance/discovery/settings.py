"""[discovery]: which hub serves which member, and when a silent hub is given up."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob


@dataclass(frozen=True)
class DiscoverySettings:
    """[discovery] The hub registry: heartbeats, suspicion, death and fencing."""

    heartbeat_interval_s: float = knob(
        1.0, "Seconds between a hub's heartbeats (each records its counts in the registry).")
    suspect_after_s: float = knob(
        2.0, "Seconds of silence after which a hub gets no new members (it keeps the ones it has).")
    dead_after_s: float = knob(
        4.0, "Seconds of silence after which a hub is declared dead and its members are moved to live hubs "
             "at their next visit (a frozen or unreachable hub; one whose restart failed is dead at once). "
             "Must be more than suspect_after_s.")
    restart_grace_s: float = knob(
        30.0, "Seconds a hub that died keeps its members (shown as restarting) while the supervisor starts it again: "
              "their servers go on meanwhile. A hub whose restart fails, or that has not registered again by then, "
              "is dead, and its members move.")
    fence_after: int = knob(
        3, "Heartbeats in a row a hub may fail to deliver before it stops its user servers and exits (it "
           "cannot know whether the portal declared it dead). fence_after × heartbeat_interval_s must be less "
           "than dead_after_s, so that a cut-off hub has stopped before its members are moved.")
    sample_interval_s: float = knob(
        60.0, "Seconds between the samples of every hub's counts (members, active members, servers running and "
              "pending, memory) that the admin console's hubs chart draws. Takes effect when the portal restarts.")
    samples_keep_days: int = knob(
        8, "Days the hubs' samples are kept; older ones are deleted as new ones are taken. The chart shows up "
             "to 7 days; 0 keeps them forever.")

    def __post_init__(self) -> None:
        if self.heartbeat_interval_s <= 0:
            raise ConfigError(f"discovery.heartbeat_interval_s = {self.heartbeat_interval_s}: must be more than 0.")
        if not self.heartbeat_interval_s < self.suspect_after_s < self.dead_after_s:
            raise ConfigError("discovery: heartbeat_interval_s < suspect_after_s < dead_after_s must hold "
                              f"(now {self.heartbeat_interval_s}, {self.suspect_after_s}, {self.dead_after_s}).")
        if self.fence_after < 1 or self.fence_after * self.heartbeat_interval_s >= self.dead_after_s:
            raise ConfigError(f"discovery.fence_after = {self.fence_after}: must be at least 1, and fence_after × "
                              f"heartbeat_interval_s ({self.fence_after * self.heartbeat_interval_s:g} s) less than "
                              f"dead_after_s ({self.dead_after_s:g} s).")
        if self.restart_grace_s <= 0:
            raise ConfigError(f"discovery.restart_grace_s = {self.restart_grace_s:g}: must be more than 0.")
        if self.sample_interval_s < 1 or self.samples_keep_days < 0:
            raise ConfigError(f"discovery.sample_interval_s = {self.sample_interval_s:g}, samples_keep_days = "
                              f"{self.samples_keep_days}: the interval must be at least 1 s and the days 0 or more.")
