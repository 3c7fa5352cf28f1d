"""[audit]: how long the audit log keeps its events."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob


@dataclass(frozen=True)
class AuditSettings:
    """[audit] The audit log: every admin action and security event, with who, what, when and from where."""

    keep_days: int = knob(
        365,
        "Days an audit event is kept; the portal deletes older ones in the background (every "
        "audit.prune_interval_s). 0 keeps every event forever. A change applies when the portal restarts.",
    )
    prune_interval_s: float = knob(
        3600.0,
        "Seconds between two deletions of events older than audit.keep_days; the first runs a minute after "
        "the portal starts (or sooner, if this is shorter).",
    )

    def __post_init__(self) -> None:
        if self.keep_days < 0:
            raise ConfigError(f"audit.keep_days = {self.keep_days}: must be 0 (keep forever) or more days.")
        if self.prune_interval_s <= 0:
            raise ConfigError(f"audit.prune_interval_s = {self.prune_interval_s}: must be more than 0 seconds.")
