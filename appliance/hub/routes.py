"""The front proxy's routes, as the portal keeps them: a dead hub's routes and those of a hub no longer
configured (``hubs.count`` lowered) are removed, so that no request reaches a server whose member has
moved on. A live hub re-adds its own routes every few seconds (see app.py); the portal's own route, under
host routing, is kept by the proxy's checks (proxy.keeping_routes)."""

from __future__ import annotations

import logging
import re

import httpx

from appliance.discovery.registry import HubRegistry
from appliance.home import Home
from appliance.hub.addresses import Addresses
from appliance.proxy import TOKEN_SECRET

HUB_ROUTE = r"/hubs/([^/]+)(?:/|$)"  # after the host prefix; the proxy keeps a hub's own route without its "/"
log = logging.getLogger(__name__)


class HubRoutes:
    def __init__(self, addresses: Addresses, home: Home, registry: HubRegistry):
        self.registry = registry
        self.configured = set(addresses.hub_ids)
        prefix = re.escape(addresses.route_prefix)
        if addresses.members_isolated:  # members' own hosts too: /alice.hub.lab.example.org/hubs/1/…
            prefix = r"/(?:[^/]+\.)?" + re.escape(addresses.route_host)
        self.hub_route = re.compile("^" + prefix + HUB_ROUTE)
        self.api = f"{addresses.proxy_api}/api/routes"
        self.http = httpx.AsyncClient(
            trust_env=False, timeout=5, headers={"Authorization": f"token {home.secret(TOKEN_SECRET)}"})
        self._swept_retired = False

    async def retire_unconfigured(self) -> None:
        """Forget the hubs ``hubs.count`` no longer runs: their members are placed again at their next visit."""
        for hub in await self.registry.hubs():
            if hub.id not in self.configured:
                await self.registry.retire(hub.id)
                log.warning("hub %s is no longer configured: retired; its %d member(s) move at their next visit",
                            hub.id, hub.assigned)

    async def tend(self, dead: set[str]) -> int:
        """Remove the routes of the ``dead`` hubs and of retired ones; the number removed. Asks the proxy only
        when some hub is dead, and once after start for the retired ones."""
        if not dead and self._swept_retired:
            return 0
        try:
            routes = (await self.http.get(self.api)).raise_for_status().json()
            stale = [spec for spec in routes if (match := self.hub_route.match(spec))
                     and (match[1] in dead or match[1] not in self.configured)]
            for spec in stale:
                (await self.http.delete(self.api + spec)).raise_for_status()
        except httpx.HTTPError as error:  # the proxy is restarting: it knows no routes anyway
            log.info("could not tend the proxy's routes (%s); next time", error)
            return 0
        self._swept_retired = True
        if stale:
            log.warning("removed %d proxy route(s) of dead or retired hubs: %s", len(stale), ", ".join(stale))
        return len(stale)

    async def aclose(self) -> None:
        await self.http.aclose()
