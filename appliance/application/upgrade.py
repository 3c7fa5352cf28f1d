"""`appliance upgrade`: bring a running appliance onto the code installed beside it (the installer runs it after
installing a new version), one component at a time, so that members notice nothing.

The database is migrated first, while the previous release still runs: that is safe only for migrations that
declare themselves backwards compatible (``backwards_compatible`` in each), and an upgrade with any other is
refused unless ``--with-downtime``, which restarts everything at once. Then the portal and the renderer
restart on the new code, and each hub in turn: a hub restarted by the supervisor keeps its members (discovery
holds them while it is ``restarting``) and their servers keep running, and it takes them back when it has
registered again. PostgreSQL and the front proxy are not restarted. The supervisor itself runs on until the
service restarts (its children are started with the new code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance import __version__
from appliance.config import Config
from appliance.db import Migration, current_revision, pending_migrations, upgrade
from appliance.errors import ApplianceError, NotRunning
from appliance.hub.addresses import hub_component
from appliance.postgres import database_url
from appliance.supervisor.control import send_command
from appliance.supervisor.polling import poll

HEALTHY_TIMEOUT_S = 180.0
COMPATIBLE = {True: "backwards compatible", False: "NOT backwards compatible: the previous release cannot run on it"}
Say = Callable[[str], None]


@dataclass(frozen=True)
class UpgradePlan:
    running: str  # the version the running supervisor started with
    installed: str  # this code's
    revision: str | None  # the database's
    migrations: list[Migration]
    restarts: list[str]  # components, in the order they restart

    @property
    def needs_downtime(self) -> bool:
        return any(not migration.backwards_compatible for migration in self.migrations)

    def render(self) -> str:
        lines = [f"appliance {self.running} runs; {self.installed} is installed."]
        if not self.migrations:
            lines.append(f"Database: at {self.revision}, nothing to migrate.")
        else:
            lines.append(f"Database: {self.revision} → {self.migrations[-1].revision}, "
                         f"{len(self.migrations)} migration{'s' if len(self.migrations) != 1 else ''}:")
            lines += [f"  {m.revision} {m.description} ({COMPATIBLE[m.backwards_compatible]})" for m in self.migrations]
        if self.needs_downtime:
            lines.append("Plan: needs downtime. Every component restarts at once after the migration: members' "
                         "open JupyterLabs lose their connection for a minute. Run it with --with-downtime "
                         "(install.sh --with-downtime) when the lab can take that.")
        else:
            lines.append(f"Plan: migrate, then restart {', '.join(self.restarts)}, one at a time; members' open "
                         "JupyterLabs keep answering and their hubs take them back.")
        return "\n".join(lines)


def plan_upgrade(config: Config) -> UpgradePlan:
    try:
        running = send_command(config.home.control_socket, {"command": "status"})["supervisor"]["version"]
    except NotRunning:
        raise NotRunning("the appliance is not running: there is nothing to upgrade in place.",
                         hint="Start it (`systemctl start appliance` or `appliance up --detach`): it migrates "
                              "as it starts.") from None
    revision = current_revision(database_url(config.home, config.postgres))
    restarts = ["portal", "renderer", *(hub_component(hub_id) for hub_id in config.addresses.hub_ids)]
    return UpgradePlan(str(running), __version__, revision, pending_migrations(revision), restarts)


def rolling_upgrade(config: Config, plan: UpgradePlan, with_downtime: bool, say: Say,
                    restart_hub: Callable[[str], None]) -> None:
    """Carry out ``plan``; refused before anything changes when it needs downtime and ``with_downtime`` is not
    given. ``restart_hub`` restarts a hub as the console does (discovery holds its members meanwhile)."""
    if plan.needs_downtime and not with_downtime:
        incompatible = ", ".join(f"{m.revision} ({m.description})" for m in plan.migrations
                                 if not m.backwards_compatible)
        raise ApplianceError(f"this upgrade is refused: migration {incompatible} is not backwards compatible, so "
                             f"appliance {plan.running} cannot run beside it while the hubs are upgraded one at a "
                             "time. Nothing was changed.",
                             hint="Upgrade when the lab can take a minute of downtime: install.sh --with-downtime "
                                  "(or `appliance upgrade --with-downtime`).")
    if plan.migrations:
        say(f"migrating the database to {plan.migrations[-1].revision}")
        upgrade(database_url(config.home, config.postgres))
    order: list[str | None] = [None] if plan.needs_downtime else [*plan.restarts]  # None: all, in order
    for component in order:
        say(f"restarting {component or 'every component'} on {plan.installed}")
        if component is not None and component.startswith("hub-"):
            restart_hub(component.removeprefix("hub-"))
            restarted = [component]
        else:
            restarted = send_command(config.home.control_socket, {"command": "restart", "component": component},
                                     timeout_s=HEALTHY_TIMEOUT_S)["restarted"]
        _wait_healthy(config, restarted)


def _wait_healthy(config: Config, names: list[str]) -> None:
    def all_healthy(components: list[dict[str, Any]]) -> bool:
        return all(c["state"] == "healthy" for c in components if c["name"] in names)

    if all_healthy(poll(lambda: send_command(config.home.control_socket, {"command": "status"})["components"],
                        all_healthy, HEALTHY_TIMEOUT_S, interval_s=0.5)):
        return
    raise ApplianceError(f"{', '.join(names)} not healthy {HEALTHY_TIMEOUT_S:.0f} s after the restart; the "
                         "rest of the upgrade was not done.", hint="See `appliance status` and `appliance logs`.")
