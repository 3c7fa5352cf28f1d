"""Server profiles: named sizes of a member's server (memory, CPUs, the environment its notebooks default to, its
idle timeout) offered to the groups that may use them (``hubs.profiles``).

Every member may use ``standard``: the hubs' own limits (hubs.memory_limit, cpu_limit_cores, idle_timeout_s).
A profile is one line of ``hubs.profiles``, its settings as ``key=value`` (quotes around a value with spaces)::

    big: memory=16G cpus=4 groups=big,gpu environment=py312-ml idle_timeout_s=28800 description="Large jobs"

The Research page offers the member those their groups allow; the portal and, again, the hub refuse any other
(a member can post to either), so that a member's choice never reaches past their groups.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.errors import ApplianceError, ConfigError

STANDARD = "standard"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?[KMGT]$")
GROUP = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # identity's group names
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")  # appliance.envs' names
KEYS = ("memory", "cpus", "groups", "environment", "idle_timeout_s", "description")


class ProfileRefused(ApplianceError):
    """A member asked for a profile their groups do not allow, or one that does not exist."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    memory: str  # as JupyterHub's mem_limit takes it (16G); "" for no limit
    cpus: float  # 0 for no limit
    environment: str  # the shared environment new notebooks default to; "" the default one
    idle_timeout_s: int  # 0: never culled
    groups: tuple[str, ...]  # who may use it; () everyone

    def allows(self, groups: Iterable[str]) -> bool:
        return not self.groups or bool(set(self.groups).intersection(groups))

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "memory": self.memory, "cpus": self.cpus,
                "environment": self.environment, "idle_timeout_s": self.idle_timeout_s, "groups": list(self.groups)}


def standard(memory: str, cpus: float, idle_timeout_s: int) -> Profile:
    return Profile(STANDARD, "The lab's standard server", memory, cpus, "", idle_timeout_s, ())


def parse_profiles(spec: str, fallback: Profile) -> list[Profile]:
    """``standard`` (``fallback``) first, then each profile of ``spec`` (lines, or ``;`` between profiles), its
    unset settings those of ``fallback``. A mistake is a ConfigError naming the profile and what to write."""
    profiles = [fallback]
    for line in (part.strip() for part in re.split(r"[;\n]", spec)):
        if not line or line.startswith("#"):
            continue
        name, colon, rest = line.partition(":")
        name = name.strip()
        if not colon or not NAME.match(name):
            raise ConfigError(f"hubs.profiles: {line!r} does not start with a profile's name and a colon.",
                              hint='Write e.g. big: memory=16G cpus=4 groups=big description="Large jobs"')
        if any(profile.name == name for profile in profiles):
            raise ConfigError(f"hubs.profiles names {name!r} twice ({STANDARD!r} is the hubs' own limits).")
        profiles.append(_profile(name, rest, fallback))
    return profiles


def _profile(name: str, rest: str, fallback: Profile) -> Profile:
    try:
        words = shlex.split(rest)
    except ValueError as error:
        raise ConfigError(f"hubs.profiles, profile {name}: {error}.") from None
    settings: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or key not in KEYS:
            raise ConfigError(f"hubs.profiles, profile {name}: {word!r} is not one of {', '.join(KEYS)} "
                              "as key=value.")
        settings[key] = value
    memory = settings.get("memory", fallback.memory)
    if memory and not MEMORY.match(memory):
        raise ConfigError(f"hubs.profiles, profile {name}: memory={memory} is not a size like 512M or 16G.")
    try:
        cpus = float(settings.get("cpus", fallback.cpus))
        idle = int(settings.get("idle_timeout_s", fallback.idle_timeout_s))
    except ValueError:
        raise ConfigError(f"hubs.profiles, profile {name}: cpus is a number (e.g. 2 or 0.5) and idle_timeout_s "
                          "whole seconds.") from None
    if cpus < 0 or idle < 0:
        raise ConfigError(f"hubs.profiles, profile {name}: cpus and idle_timeout_s cannot be negative.")
    groups = tuple(group for group in settings.get("groups", "").split(",") if group)
    bad_groups = [group for group in groups if not GROUP.match(group)]
    environment = settings.get("environment", "")
    if bad_groups or (environment and not ENVIRONMENT.match(environment)):
        raise ConfigError(f"hubs.profiles, profile {name}: groups are names separated by commas (groups=big,gpu) "
                          "and environment the name of a shared environment (`appliance env list`).")
    return Profile(name, settings.get("description", name), memory, cpus, environment, idle, groups)


def available(profiles: list[Profile], groups: Iterable[str]) -> list[Profile]:
    """The profiles a member of ``groups`` may choose, ``standard`` first."""
    groups = list(groups)
    return [profile for profile in profiles if profile.allows(groups)]


def choose(profiles: list[Profile], name: str | None, groups: Iterable[str]) -> Profile:
    """The profile ``name`` (``standard`` when None or empty) if a member of ``groups`` may use it."""
    name = name or STANDARD
    found = next((profile for profile in profiles if profile.name == name), None)
    if found is None:
        raise ProfileRefused(f"there is no server profile {name!r}; choose one on the Research page.")
    if not found.allows(groups):
        raise ProfileRefused(f"the server profile {name!r} is for members of {', '.join(found.groups)}; you are "
                             "not one.", hint="Ask an administrator to add you to the group, or choose another.")
    return found
