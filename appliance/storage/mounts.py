"""Hybrid mode: real directories shown inside every namespace (a shared read-only datasets/,
a per-member scratch/ on local disk). Declared as "NAME=PATH[:ro]" items, comma-separated; PATH may
contain {username}."""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Mount:
    name: str
    path: str  # absolute; may contain {username}
    read_only: bool

    def root_for(self, username: str) -> str:
        return self.path.replace("{username}", username)

    @property
    def per_member(self) -> bool:
        """Whether each member has a folder of their own here (PATH contains {username})."""
        return "{username}" in self.path


def parse_mounts(spec: str) -> list[Mount]:
    mounts: list[Mount] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, equals, path = item.partition("=")
        read_only = path.endswith(":ro")
        path = path[:-3] if read_only else path.removesuffix(":rw")
        if not equals or not NAME.match(name.strip()) or not path.startswith("/"):
            raise ConfigError(f"storage.mounts item {item!r} is not NAME=/absolute/path[:ro], "
                              "e.g. datasets=/srv/datasets:ro, scratch=/srv/scratch/{username}")
        if any(m.name == name.strip() for m in mounts):
            raise ConfigError(f"storage.mounts names {name.strip()!r} twice.")
        mounts.append(Mount(name.strip(), path, read_only))
    return mounts
