"""The appliance's children and what each needs first: PostgreSQL → migrations → the portal and the gallery's
renderer; the front proxy needs nothing; the hubs need the portal and the proxy. What does not need another
starts beside it (the start's time is every operator's wait, and every test's); the stop goes the other way."""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial

from appliance import gallery
from appliance.config import Config
from appliance.discovery.service import announce_proxy_restart, end_hub_hold, hold_crashed_hub, hub_credentials
from appliance.hub import addresses
from appliance.portal.serve import listening_hosts
from appliance.postgres import EmbeddedCluster, database_url
from appliance.proxy import TOKEN_SECRET as PROXY_TOKEN_SECRET
from appliance.proxy import proxy_spec
from appliance.supervisor.checks import heartbeat, http_ok
from appliance.supervisor.spec import ChildSpec, Port


def build_children(config: Config) -> list[ChildSpec]:
    """Child specs for ``config``. Runs version probes: call before the launcher is installed."""
    if config.nodes.is_hub_node:
        return node_children(config)
    specs: list[ChildSpec] = []
    if not config.postgres.url:
        cluster = EmbeddedCluster(config.home, config.postgres)
        specs.append(replace(cluster.child_spec(network_address=config.nodes.address), after=()))
    specs.append(
        ChildSpec(
            name="migrate",
            description="database migrations",
            argv=[sys.executable, "-m", "appliance", "db", "upgrade"],
            oneshot=True,
            after=tuple(spec.name for spec in specs),  # the embedded cluster, if any
        )
    )
    portal, portal_local = config.portal, config.addresses.portal_local
    portal_hosts = listening_hosts(portal, config.nodes.address)
    healthz = http_ok(f"{portal_local}/healthz")  # one check, one kept connection, for readiness and health
    specs.append(
        ChildSpec(
            name="portal",
            description="portal",
            argv=[sys.executable, "-m", "appliance.application.portal"],
            ready=healthz,
            health=healthz,
            address=f"{portal.host}:{portal.port}",
            ports=tuple(Port(host, portal.port, "portal.port") for host in portal_hosts),
            inherits_ports=True,  # its restarts (an upgrade's) refuse no sign-in
            after=("migrate",),
        )
    )
    proxy = proxy_spec(config.proxy, config.home.secret(PROXY_TOKEN_SECRET), portal_routes(config))
    # a restarted proxy knows no routes: the hubs, told so, add theirs at once
    on_restarted = partial(announce_proxy_restart, database_url(config.home, config.postgres))
    specs.append(replace(proxy, after=(), on_restarted=on_restarted))
    specs += [hub_spec(config, hub_id) for hub_id in config.addresses.hub_ids]
    specs.append(renderer_spec(config))
    return specs


def node_children(config: Config) -> list[ChildSpec]:
    """A hub node's: its proxy and its hubs. The portal, the database and the renderer are the portal machine's."""
    listening = replace(config.proxy, host=config.nodes.address or config.proxy.host)  # where the portal reaches it
    proxy = proxy_spec(listening, config.home.secret(PROXY_TOKEN_SECRET), [],
                       host_routing=config.addresses.host_routing, forward_headers=False)
    on_restarted = partial(announce_proxy_restart, database_url(config.home, config.postgres))
    return [replace(proxy, after=(), on_restarted=on_restarted),
            *[replace(hub_spec(config, hub_id), after=("proxy",)) for hub_id in config.addresses.hub_ids]]


def hub_credential(config: Config, hub_id: str) -> str:
    """The hub's credential with discovery: derived from the discovery key on the portal's machine, handed to a hub
    node when it joined."""
    if config.nodes.is_hub_node:
        return config.home.secret(addresses.discovery_credential_name(hub_id))
    return hub_credentials(config.home).for_hub(hub_id)


def portal_routes(config: Config) -> list[tuple[str, str]]:
    """The front proxy's routes to the portal under host routing: its host name, and the gallery's render host
    (served by the portal too, which answers only the render paths there: gallery/rendered.py)."""
    hosts = [config.addresses.portal_route, config.addresses.render_route]
    return [(route, config.addresses.portal_local) for route in hosts if route]


def renderer_spec(config: Config) -> ChildSpec:
    """The gallery's renderer (gallery/renderer.py): it listens on no port, so its health is its heartbeat."""
    beats = heartbeat(*gallery.renderer_heartbeat(config.home.run_dir))
    return ChildSpec(
        name="renderer",
        description="gallery renderer",
        argv=[sys.executable, "-m", "appliance.application.renderer"],
        ready=beats,
        health=beats,
        after=("migrate",),
    )


def hub_spec(config: Config, hub_id: str) -> ChildSpec:
    port, base = config.addresses.api_port(hub_id), addresses.base_url(hub_id)
    state = config.home.root / "hubs" / hub_id
    state.mkdir(parents=True, exist_ok=True)
    database = database_url(config.home, config.postgres)
    # JupyterHub's health probe, answered at once and logged only at debug level: readiness and health
    host = config.addresses.hub_ip
    health = http_ok(f"http://{host}:{port}{base}hub/health")
    # the Kubernetes client reads it when the hub imports it (hubs.spawner = "kubernetes")
    kubeconfig = {"KUBECONFIG": config.kubernetes.kubeconfig} if config.kubernetes.kubeconfig else {}
    return ChildSpec(
        name=addresses.hub_component(hub_id),
        description=f"hub {hub_id}",
        argv=[sys.executable, "-m", "appliance.application.hub", hub_id],
        env={"APPLIANCE_HUB_CREDENTIAL": hub_credential(config, hub_id), **kubeconfig},
        cwd=state,  # JupyterHub reads a jupyterhub_config.py in its working directory: there is none here
        ready=health,
        health=health,
        address=f"{host}:{port}{base}",
        ports=(Port(host, port, "hubs.first_port"),),
        after=("portal", "proxy"),
        # a hub that crashed keeps its members while it restarts, unless the restart fails
        on_crash=partial(hold_crashed_hub, database, config.discovery, hub_id),
        on_failed_restart=partial(end_hub_hold, database, config.discovery, hub_id),
    )
