"""The appliance's children, in start order: PostgreSQL → migrations → portal → front proxy."""

from __future__ import annotations

import sys

from appliance.config import Config
from appliance.postgres import EmbeddedCluster
from appliance.proxy import proxy_spec
from appliance.supervisor.checks import http_ok
from appliance.supervisor.spec import ChildSpec, Port


def build_children(config: Config) -> list[ChildSpec]:
    """Child specs for ``config``. Runs version probes: call before the launcher is installed."""
    specs: list[ChildSpec] = []
    if not config.postgres.url:
        specs.append(EmbeddedCluster(config.home, config.postgres).child_spec())
    specs.append(
        ChildSpec(
            name="migrate",
            description="database migrations",
            argv=[sys.executable, "-m", "appliance", "db", "upgrade"],
            oneshot=True,
        )
    )
    portal = config.portal
    local_host = "127.0.0.1" if portal.host in ("0.0.0.0", "") else portal.host
    specs.append(
        ChildSpec(
            name="portal",
            description="portal",
            argv=[sys.executable, "-m", "appliance.portal"],
            ready=http_ok(f"http://{local_host}:{portal.port}/healthz"),
            health=http_ok(f"http://{local_host}:{portal.port}/healthz"),
            address=f"{portal.host}:{portal.port}",
            ports=(Port(portal.host, portal.port, "portal.port"),),
        )
    )
    specs.append(proxy_spec(config.proxy, config.home.secret("proxy-token")))
    return specs
