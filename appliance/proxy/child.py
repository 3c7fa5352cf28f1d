"""The front proxy as the supervisor runs it: its command line and the check that keeps the portal's routes."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from appliance.proxy.command import find_proxy_command
from appliance.proxy.settings import ProxySettings
from appliance.proxy.tls import check_tls_files
from appliance.supervisor.checks import kept_session
from appliance.supervisor.spec import Check, CheckFailed, ChildSpec, Port
from appliance.webui import PROXY_ERROR_PAGES


def api_url(port: int) -> str:
    """The proxy's REST API, on loopback: for its checks, the portal and the hubs alike."""
    return f"http://127.0.0.1:{port}"


RELOAD_CERTIFICATE = Path(__file__).with_name("reload-certificate.js")
TOKEN_SECRET = "proxy-token"  # the proxy's REST API token, shared by the supervisor, the hubs and the portal


def keeping_routes(api: str, token: str, routes: Sequence[tuple[str, str]]) -> Check:
    """Pass when the proxy's API answers and has every route in ``routes`` (spec, target), which this check
    adds when one is missing: a started or restarted proxy knows no routes, and the portal's host names
    must answer as soon as the proxy does. It looks up the first route only (one lookup, not a listing of
    every member's route every few seconds): routes are added together, and only a restart loses them."""
    session = kept_session(2.0, {"Authorization": f"token {token}"})

    async def check() -> None:
        try:
            if routes:
                async with session().get(f"{api}/api/routes{routes[0][0]}") as response:
                    if response.status != 404:
                        response.raise_for_status()
                        return
            async with session().get(f"{api}/api/routes", raise_for_status=True) as response:
                known = await response.json()
            for spec, target in routes:
                if spec not in known:
                    async with session().post(f"{api}/api/routes{spec}", json={"target": target},
                                              raise_for_status=True):
                        pass
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise CheckFailed(f"the front proxy's API at {api}: {type(exc).__name__} {exc}".strip()) from None

    return check


def proxy_spec(settings: ProxySettings, token: str, portal_routes: Sequence[tuple[str, str]] = (),
               host_routing: bool | None = None, forward_headers: bool = True) -> ChildSpec:
    """The front proxy. With ``portal_routes`` (the portal's host names, as routes, and its loopback address)
    the proxy routes by host name: the first segment of every route is a host (see
    hub.addresses.route_prefix), and the proxy serves the portal's host names too, routes its checks keep.
    A hub node's proxy routes by host name as its portal's does (``host_routing``), and passes on the
    X-Forwarded-* headers the portal's front proxy set, as they are (``forward_headers`` False)."""
    api = api_url(settings.api_port)
    argv = [str(find_proxy_command(settings)), "--ip", settings.host, "--port", str(settings.port),
            "--api-ip", "127.0.0.1", "--api-port", str(settings.api_port),
            "--error-path", str(PROXY_ERROR_PAGES), "--log-level", settings.log_level]
    ports = [Port(settings.host, settings.port, "proxy.port"), Port("127.0.0.1", settings.api_port, "proxy.api_port")]
    if bool(portal_routes) if host_routing is None else host_routing:
        argv.append("--host-routing")
    if not forward_headers:
        argv.append("--no-x-forward")
    env = {"CONFIGPROXY_AUTH_TOKEN": token}
    if settings.tls_cert:
        check_tls_files(settings)
        argv += ["--ssl-cert", settings.tls_cert, "--ssl-key", settings.tls_key]
        env["NODE_OPTIONS"] = f'--require "{RELOAD_CERTIFICATE}"'  # SIGHUP: a renewed certificate, no restart
    if settings.http_redirect_port:
        argv += ["--redirect-port", str(settings.http_redirect_port), "--redirect-to", str(settings.port)]
        ports.append(Port("0.0.0.0", settings.http_redirect_port, "proxy.http_redirect_port"))
    routes_kept = keeping_routes(api, token, portal_routes)  # readiness and health: one check, one connection
    return ChildSpec(
        name="proxy",
        description="front proxy",
        argv=argv,
        env=env,
        ready=routes_kept,
        health=routes_kept,
        address=f"{settings.host}:{settings.port} (api 127.0.0.1:{settings.api_port})",
        ports=tuple(ports),
        reload_signal=signal.SIGHUP if settings.tls_cert else None,
    )
