"""Hub nodes, on the portal's machine: admitting a machine that has a join token (its hubs' OAuth clients, its
database role and hub databases, the secrets its hubs need), and the portal's view of the nodes' hubs (their
APIs, and the front proxy's routes to the node that serves each)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from appliance import identity
from appliance.config import Config
from appliance.db import ensure_database
from appliance.db.pool import libpq_url
from appliance.discovery.registry import HubRegistry
from appliance.discovery.service import HUB_ROLE_GRANTS, hub_credentials
from appliance.hub import addresses
from appliance.hub.client import HubAPI
from appliance.hub.routes import HubRoutes
from appliance.nodes import JoinRequest, Node, NodeDirectory, NodeError
from appliance.postgres import EmbeddedCluster, PostgresError, check_external, database_url
from appliance.proxy import TOKEN_SECRET as PROXY_TOKEN_SECRET
from appliance.storage.service import TOKEN_SECRET as STORAGE_TOKEN_SECRET

log = logging.getLogger(__name__)
REFRESH_S = 5.0  # how often the portal reads the node directory again (a node that joined is served within this)


def node_role(node: Node) -> str:
    return f"node_{node.number}"


class NodeAdmission:
    """The join API's work: a machine with a live token becomes node N, with hubs N01…; the answer is everything
    `appliance join` writes on it."""

    def __init__(self, config: Config, directory: NodeDirectory, identity_service: identity.Identity):
        self.config = config
        self.directory = directory
        self.identity = identity_service

    async def admit(self, request: JoinRequest) -> dict[str, Any]:
        return await run_in_threadpool(self._admit, request)

    def _admit(self, request: JoinRequest) -> dict[str, Any]:
        config, home = self.config, self.config.home
        node, (postgres_url, ca) = self.directory.join(request.token, request.name, request.address,
                                                       request.proxy_port, request.first_api_port, request.hub_count,
                                                       prepare=self._database)
        credentials = hub_credentials(home)
        secrets = {addresses.PORTAL_SERVICE_TOKEN_SECRET: home.secret(addresses.PORTAL_SERVICE_TOKEN_SECRET),
                   STORAGE_TOKEN_SECRET: home.secret(STORAGE_TOKEN_SECRET)}
        for hub_id in node.hub_ids:
            oauth_secret = home.secret(addresses.oauth_secret_name(hub_id))
            self.identity.clients.ensure(addresses.oauth_client_id(hub_id), oauth_secret,
                                         [config.addresses.oauth_callback(hub_id)],
                                         name=f"Hub {hub_id} ({node.name})", first_party=True)
            secrets[addresses.oauth_secret_name(hub_id)] = oauth_secret
            secrets[addresses.discovery_credential_name(hub_id)] = credentials.for_hub(hub_id)
        log.warning("node %d (%s at %s) joined with hubs %s", node.number, node.name, node.address,
                    ", ".join(node.hub_ids))
        return {"node": node.to_json(),
                "settings": {"nodes.first_hub": node.hub_ids[0], "hubs.count": node.hub_count,
                             "portal.public_url": config.addresses.portal_origin,
                             "hubs.public_url": config.addresses.hub_origin, "postgres.url": postgres_url,
                             "storage.token_lifetime_s": config.storage.token_lifetime_s},
                "postgres_ca": ca, "secrets": secrets}

    def _database(self, node: Node) -> tuple[str, str]:
        """The node's database URL (the appliance's database; its hubs' are beside it) and the CA that verifies
        the server (PEM, or empty). On the embedded cluster the node has a role of its own, owning its hubs'
        databases and allowed its hubs' heartbeats; on an external server, the appliance's own role, which makes
        the hubs' databases if it may (else the refusal gives the administrator's SQL)."""
        config, home = self.config, self.config.home
        appliance_url = database_url(home, config.postgres)
        appliance_database = str(make_url(appliance_url).database)
        if config.postgres.url:
            try:
                check_external(appliance_url, [addresses.database_name(hub_id) for hub_id in node.hub_ids])
            except PostgresError as error:
                raise NodeError(f"the lab's PostgreSQL cannot hold node {node.number}'s hubs yet: {error}") from None
            for hub_id in node.hub_ids:
                ensure_database(make_url(appliance_url).set(database=addresses.database_name(hub_id))
                                .render_as_string(hide_password=False), appliance_database)
            ca = Path(config.postgres.ca_file).read_text() if config.postgres.ca_file else ""
            return config.postgres.url, ca
        role, password = node_role(node), home.secret(f"{node_role(node)}-postgres-password")
        with psycopg.connect(libpq_url(appliance_url), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            connection.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
            connection.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(appliance_database), sql.Identifier(role)))
            for grant in HUB_ROLE_GRANTS:
                connection.execute(sql.SQL(grant).format(role=sql.Identifier(role)))
            for hub_id in node.hub_ids:
                name = addresses.database_name(hub_id)
                if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(role)))
        address = config.nodes.address  # none: a node on this very machine, over loopback
        url = (f"postgresql://{role}:{quote(password, safe='')}@{address or '127.0.0.1'}:{config.postgres.port}/"
               f"{appliance_database}")
        return url, EmbeddedCluster(home, config.postgres).network_certificate(address) if address else ""


class NodeHubs:
    """What the portal knows of the nodes' hubs, read from the directory every REFRESH_S: each one's API (in
    ``apis``, shared with the portal's calls to hubs), its place among the hubs the front proxy's routes are
    kept for, and the front proxy's routes that send its path, and its members' hosts, to the node's proxy."""

    def __init__(self, config: Config, directory: NodeDirectory, apis: dict[str, HubAPI], routes: HubRoutes,
                 registry: HubRegistry, http: httpx.AsyncClient):
        self.config = config
        self.directory = directory
        self.apis = apis
        self.routes = routes
        self.registry = registry
        self.http = http
        self.nodes: dict[str, Node] = {}  # by hub id
        self._read_at = 0.0
        self.proxy = httpx.AsyncClient(trust_env=False, timeout=5, headers={
            "Authorization": f"token {config.home.secret(PROXY_TOKEN_SECRET)}"})

    async def refresh(self, dead: set[str] | None = None) -> None:
        """Read the directory again if it is due; then keep the front proxy's routes to the live nodes' hubs."""
        if time.monotonic() - self._read_at >= REFRESH_S:
            nodes = await run_in_threadpool(self.directory.nodes)
            self._read_at = time.monotonic()
            wanted = {hub_id: node for node in nodes for hub_id in node.hub_ids}
            for hub_id in set(self.nodes) - set(wanted):
                self.apis.pop(hub_id, None)
                self.routes.configured.discard(hub_id)
            for hub_id, node in wanted.items():
                if hub_id not in self.apis or self.nodes.get(hub_id) != node:
                    self.apis[hub_id] = HubAPI(self.config.addresses, self.config.home, hub_id, self.http,
                                               base=addresses.hub_api_url(node.address, node.api_port(hub_id), hub_id))
                self.routes.configured.add(hub_id)
            self.nodes = wanted
        await self.keep_routes(dead or set())

    async def keep_routes(self, dead: set[str]) -> None:
        """The front proxy's routes to the node hubs that are not dead: each hub's path on the hub origin, and
        where members have hosts of their own, each member's host of it; all to the node's proxy."""
        if not self.nodes:
            return
        where = self.config.addresses
        wanted: dict[str, str] = {}
        for hub_id, node in self.nodes.items():
            if hub_id in dead:
                continue
            wanted[f"{where.route_prefix}/hubs/{hub_id}"] = node.proxy_url
            if where.members_isolated:
                for name in await self.registry.members(hub_id):
                    wanted[f"/{name}.{where.hub_host}/hubs/{hub_id}"] = node.proxy_url
        api = f"{where.proxy_api}/api/routes"
        try:
            known = (await self.proxy.get(api)).raise_for_status().json()
            for spec, target in wanted.items():
                if known.get(spec, {}).get("target") != target:
                    (await self.proxy.post(api + spec, json={"target": target, "node": True})).raise_for_status()
            for spec, route in known.items():
                if route.get("node") and spec not in wanted:
                    (await self.proxy.delete(api + spec)).raise_for_status()
        except httpx.HTTPError as error:  # the proxy is restarting: the next reap adds them
            log.info("could not keep the routes to hub nodes (%s); next time", error)

    async def aclose(self) -> None:
        await self.proxy.aclose()


async def remove_node(config: Config, directory: NodeDirectory, registry: HubRegistry, name: str,
                      echo: Callable[[str], None]) -> Node:
    """Take a node out: its hubs drain (no new members), its members' servers there stop (what they saved is in
    the storage; a node that cannot be reached has none running that anyone reaches), its hubs are forgotten, and
    so is the node. Each member is placed on another hub at their next visit. The node's databases stay."""
    node = await run_in_threadpool(directory.set_removing, name)
    known = {hub.id for hub in await registry.hubs()}
    for hub_id in node.hub_ids:
        if hub_id in known:
            await registry.set_draining(hub_id, True)
    echo(f"node {node.name}: hubs {', '.join(node.hub_ids)} draining (no new members)")
    async with httpx.AsyncClient(timeout=10) as http:
        for hub_id in node.hub_ids:
            hub = HubAPI(config.addresses, config.home, hub_id, http,
                         base=addresses.hub_api_url(node.address, node.api_port(hub_id), hub_id))
            for member in await registry.members(hub_id):
                try:
                    stopped = await hub.stop(member)
                    echo(f"  {member}: server on hub {hub_id} {'stopped' if stopped else 'was not running'}")
                except httpx.HTTPError as error:
                    echo(f"  {member}: hub {hub_id} did not answer ({type(error).__name__}); its server, if any, "
                         "ends with the node")
            await registry.retire(hub_id)
    await run_in_threadpool(directory.forget, name)
    return node
