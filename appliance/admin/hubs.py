"""The hubs as an administrator sees and steers them: the console's Hubs page and API and `appliance hubs`
call these functions, and nothing else, to read a hub's state or change it.

A hub's live state is discovery's (routable, suspect, dead, draining; heartbeat age; members; servers
running and pending; memory) beside the supervisor's view of its process (state, pid, restarts, last
error), when a supervisor answers. Draining is discovery's flag; a restart is the supervisor's (the hub
stops, starts again and registers anew; its members' servers keep running). Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.audit import Actor, Record
from appliance.discovery import History, Hub, HubRegistry, HubSamples
from appliance.errors import ApplianceError
from appliance.hub import addresses
from appliance.supervisor.control import SupervisorClient

PROCESS_FIELDS = ("state", "pid", "uptime_s", "restarts", "last_error")
# a restarted hub is 'restarting' (no new members, never declared dead) until it registers or this has passed
RESTART_GRACE_S = 120.0


class NoSupervisor(ApplianceError):
    """A hub can be restarted only through the supervisor that runs it."""

    status = 503


@dataclass(frozen=True)
class HubView:
    """A hub as the console shows it: discovery's view, and the supervisor's of its process (None when no
    supervisor answers, or it does not run this hub)."""

    hub: Hub
    process: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {**self.hub.to_json(), "process": self.process}


def totals(views: list[HubView]) -> dict[str, int]:
    """The lab's sums over its hubs (memory over the hubs that report it)."""
    hubs = [view.hub for view in views]
    return {"members": sum(hub.assigned for hub in hubs), "active": sum(hub.active for hub in hubs),
            "running": sum(hub.running for hub in hubs), "pending": sum(hub.pending for hub in hubs),
            "memory_bytes": sum(hub.memory_bytes or 0 for hub in hubs)}


class HubsConsole:
    def __init__(self, registry: HubRegistry, samples: HubSamples, supervisor: SupervisorClient, record: Record):
        self.registry = registry
        self.samples = samples
        self.supervisor = supervisor
        self.record = record

    async def hubs(self) -> list[HubView]:
        """Every hub discovery knows, with its process as the supervisor reports it."""
        found = await self.registry.hubs()
        status = await self.supervisor.status()
        processes = {c["name"]: c for c in status["components"]} if status else {}
        return [HubView(hub, self._process(processes.get(addresses.hub_component(hub.id)))) for hub in found]

    @staticmethod
    def _process(component: dict[str, Any] | None) -> dict[str, Any] | None:
        return {name: component.get(name) for name in PROCESS_FIELDS} if component else None

    async def drain(self, hub_id: str, actor: Actor) -> Hub:
        """Send no new members to the hub; its members stay until it is undrained or stopped."""
        hub = await self.registry.set_draining(hub_id, True)
        self.record(actor, "hub.drained", target=f"hub {hub_id}", detail={"members": hub.assigned})
        return hub

    async def undrain(self, hub_id: str, actor: Actor) -> Hub:
        """Let the hub take new members again."""
        hub = await self.registry.set_draining(hub_id, False)
        self.record(actor, "hub.undrained", target=f"hub {hub_id}", detail={"state": hub.state})
        return hub

    async def restart(self, hub_id: str, actor: Actor) -> Hub:
        """Stop the hub's process and let the supervisor start it again; returns the hub as it was. Its
        members' servers keep running, and it takes them up again when it has registered."""
        hub = await self.registry.hub(hub_id)  # NoSuchHub names the hubs there are
        if await self.supervisor.status() is None:
            raise NoSupervisor(f"hub {hub_id} cannot be restarted from here: no supervisor answers on "
                               f"{self.supervisor.path}.", hint="Is the appliance running? See `appliance status`.")
        await self.registry.hold_for_restart(hub_id, RESTART_GRACE_S)
        await self.supervisor.restart(addresses.hub_component(hub_id))
        self.record(actor, "hub.restarted", target=f"hub {hub_id}", detail={"epoch": hub.epoch})
        return hub

    async def history(self, window: str) -> History:
        """Every hub's members, active members and servers over ``window`` ("24h" or "7d")."""
        return await self.samples.history(window)
