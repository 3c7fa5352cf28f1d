"""When to restart a child that died, and when to call it crash-looping. Pure logic."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class RestartPolicy:
    """Exponential back-off with jitter, reset once a child has stayed up ``stable_after_s``."""

    initial_s: float
    max_s: float
    stable_after_s: float
    crashloop_after: int
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    failures: int = 0  # consecutive starts that did not stay up stable_after_s

    def record_exit(self, uptime_s: float) -> None:
        """Count a death; a child that had been stable starts a fresh series."""
        self.failures = 1 if uptime_s >= self.stable_after_s else self.failures + 1

    def next_delay(self, rng: random.Random | None = None) -> float:
        base = min(self.initial_s * 2.0 ** max(self.failures - 1, 0), self.max_s)
        factor: float = 1 + (rng or random.Random()).uniform(-self.jitter, self.jitter)
        return min(base * factor, self.max_s)

    @property
    def crashlooping(self) -> bool:
        return self.failures >= self.crashloop_after

    def record_stable(self) -> None:
        self.failures = 0
