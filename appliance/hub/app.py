"""The hub: JupyterHub as every hub process of the appliance runs it.

On top of JupyterHub it registers with discovery and heartbeats every interval with its counts; it
admits only the members discovery assigned to it; it fences itself (stops its user servers and exits)
when it cannot deliver its heartbeats or learns that its epoch is over; and it re-adds its routes to
the shared front proxy every few seconds, so that a restarted proxy serves it again at once.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from jupyterhub.app import JupyterHub
from jupyterhub.proxy import ConfigurableHTTPProxy
from jupyterhub.spawner import SimpleLocalProcessSpawner
from oauthenticator.generic import GenericOAuthenticator
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int, Unicode


class SharedProxy(ConfigurableHTTPProxy):
    """The appliance's one front proxy, shared by all hubs and started by the supervisor. A hub sees,
    and so prunes, only the routes under its own base_url: otherwise every hub's route check would
    delete the others' routes."""

    async def get_all_routes(self) -> dict[str, Any]:
        routes: dict[str, Any] = await super().get_all_routes()
        prefix = self.app.base_url
        return {spec: route for spec, route in routes.items() if spec.startswith(prefix)}


class DiscoveryClient:
    """This hub's calls to the portal's discovery API, with its credential."""

    def __init__(self, portal_url: str, hub_id: str, credential: str):
        self.base = f"{portal_url.rstrip('/')}/api/discovery/v1/hubs/{hub_id}"
        self.headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
        self.http = AsyncHTTPClient()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   timeout_s: float = 5) -> dict[str, Any]:
        request = HTTPRequest(f"{self.base}/{path}", method=method, headers=self.headers,
                              body=json.dumps(body) if body is not None else None,
                              connect_timeout=timeout_s, request_timeout=timeout_s)
        response = await self.http.fetch(request)
        answer: dict[str, Any] = json.loads(response.body)
        return answer


class ApplianceAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator against the portal that admits only the members discovery assigned to
    this hub, and takes the admin flag from the portal's "admin" claim."""

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        """Only discovery decides (the portal already refused anyone it does not know or disabled)."""
        hub: ApplianceHub = self.parent
        answer = await hub.discovery.call("GET", f"members/{username}")
        if not answer["assigned"]:
            self.log.warning("refusing %s: discovery assigned them to hub %s, not to this one", username,
                             answer["hub"])
        return bool(answer["assigned"])

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)
        claims = (auth_model.get("auth_state") or {}).get("oauth_user", {})
        auth_model["admin"] = bool(auth_model.get("admin")) or bool(claims.get("admin"))  # the portal decides
        return auth_model


class ApplianceHub(JupyterHub):
    hub_id = Unicode(config=True, help="This hub's id; its base_url is /hubs/<id>/.")
    portal_url = Unicode(config=True, help="The portal as this hub reaches it (discovery lives there).")
    discovery_credential = Unicode(config=True, help="This hub's credential for the discovery API.")
    spawner_name = Unicode("local", config=True, help="Reported to discovery: how this hub spawns.")
    isolation = Unicode("none", config=True, help="Reported to discovery: what separates user servers.")
    route_check_interval_s = Float(2.0, config=True, help="Seconds between re-adding this hub's routes to the "
                                   "front proxy (a restarted proxy knows no routes).")
    fence_after = Int(5, config=True, help="Heartbeats missed in a row before this hub fences itself.")
    heartbeat_interval_s = Float(1.0, config=True, help="Seconds between heartbeats.")

    epoch = 0
    _last_delivered = 0.0

    async def start(self) -> None:
        await super().start()
        self.discovery = DiscoveryClient(self.portal_url, self.hub_id, self.discovery_credential)
        await self._register()
        for callback, interval_s in ((self._heartbeat, self.heartbeat_interval_s),
                                     (self._check_routes, self.route_check_interval_s)):
            periodic = PeriodicCallback(callback, 1000 * interval_s)
            periodic.start()
            self._periodic_callbacks[callback.__name__] = periodic

    async def _register(self) -> None:
        answer = await self.discovery.call("POST", "register", {"spawner": self.spawner_name,
                                                                 "isolation": self.isolation}, timeout_s=30)
        self.epoch = answer["epoch"]
        self.heartbeat_interval_s = answer["heartbeat_interval_s"]
        self.fence_after = answer["fence_after"]
        self._last_delivered = time.monotonic()
        members = set(answer["members"])
        strangers = [user for user in self.users.values() if user.name not in members and user.active]
        for user in strangers:  # moved elsewhere while this hub was away: one server per member
            self.log.warning("stopping %s's server: discovery assigned them to another hub", user.name)
            await self._stop_servers(user)
        self.log.info("registered with discovery as hub %s, epoch %d, %d member(s)", self.hub_id, self.epoch,
                      len(members))

    def _counts(self) -> tuple[int, int]:
        spawners = [spawner for user in self.users.values() for spawner in user.spawners.values()]
        return (sum(1 for spawner in spawners if spawner.ready),
                sum(1 for spawner in spawners if spawner.pending == "spawn"))

    async def _heartbeat(self) -> None:
        silent_s = time.monotonic() - self._last_delivered
        if silent_s >= self.fence_after * self.heartbeat_interval_s:  # e.g. this process was stopped
            await self._fence(f"no heartbeat delivered for {silent_s:.1f} s")
            return
        running, pending = self._counts()
        try:
            await self.discovery.call("POST", "heartbeat", {"epoch": self.epoch, "running": running,
                                                            "pending": pending}, timeout_s=self.heartbeat_interval_s)
        except HTTPClientError as error:
            if error.code == 410:  # declared dead, or restarted: members may have moved
                await self._fence("discovery says this hub's epoch is over")
                return
            self.log.warning("heartbeat refused: %s", error)
        except Exception as error:  # the portal is unreachable: fencing starts after fence_after of these
            self.log.warning("heartbeat not delivered: %s", error)
        else:
            self._last_delivered = time.monotonic()

    async def _fence(self, why: str) -> None:
        """Stop every user server and exit: this hub cannot know whether its members moved elsewhere.
        The supervisor starts it again, and it registers anew."""
        self.log.error("fencing hub %s (%s): stopping its user servers and exiting", self.hub_id, why)
        for periodic in self._periodic_callbacks.values():
            periodic.stop()
        for user in list(self.users.values()):
            await self._stop_servers(user)
        self.stop()

    async def _stop_servers(self, user: Any) -> None:
        for name, spawner in list(user.spawners.items()):
            if spawner.active:
                await user.stop(name)

    async def _check_routes(self) -> None:
        try:
            await self.proxy.check_routes(self.users, self._service_map)
        except Exception as error:  # the proxy is restarting: next time
            self.log.warning("could not check the proxy's routes: %s", error)


class LocalSpawner(SimpleLocalProcessSpawner):
    """A user server as a process of the hub's own user. Never as root: a hub running as root spawns
    locally only once members get system users of their own (the systemd spawner's dynamic users are
    the way on machines with systemd)."""

    async def start(self) -> Any:
        if os.geteuid() == 0:
            raise RuntimeError("this hub runs as root and will not start user servers as root; use "
                               "hubs.spawner = 'systemd' on a machine with systemd, or run the appliance as "
                               "an ordinary user.")
        return await super().start()
