"""The front proxy: configurable-http-proxy on the hub origin, with its API on loopback.

Until hubs register routes, every request gets the "no hub yet" page from webui/proxy-errors
(served by the proxy itself for its 404, so nothing of the portal is exposed on the hub origin).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ApplianceError
from appliance.knobs import knob
from appliance.supervisor.checks import http_ok
from appliance.supervisor.spec import ChildSpec, Port
from appliance.webui import PROXY_ERROR_PAGES

CHP = "configurable-http-proxy"
INSTALL_HINT = (
    f"Run installer/install.sh, or install it next to appliance with `npm install --prefix {sys.prefix} "
    f"{CHP}@5` (Node.js 20+; use @4.6 on Node.js 18), or set proxy.command."
)


@dataclass(frozen=True)
class ProxySettings:
    """[proxy] The front proxy on the hub origin (configurable-http-proxy)."""

    host: str = knob(
        "127.0.0.1",
        "Address the hub origin listens on. 0.0.0.0 serves every interface (`appliance up --public`).",
    )
    port: int = knob(8001, "TCP port of the hub origin (hubs and user servers are reached through it).")
    api_port: int = knob(8002, "Loopback TCP port of the proxy's REST API (protected by a generated token).")
    command: str = knob(
        "",
        f"Path of the {CHP} executable. Empty looks in <venv>/node_modules/.bin, then PATH.",
    )


TOKEN_SECRET = "proxy-token"  # the proxy's REST API token, shared by the supervisor, the hubs and the portal


class ProxyNotFound(ApplianceError):
    """configurable-http-proxy or Node.js is missing."""


def find_proxy_command(settings: ProxySettings) -> Path:
    if settings.command:
        path = Path(settings.command)
        if not path.is_file():
            raise ProxyNotFound(f"proxy.command = {settings.command} does not exist.", hint=INSTALL_HINT)
        return path
    bundled = Path(sys.prefix) / "node_modules" / ".bin" / CHP
    if bundled.is_file():
        return bundled
    on_path = shutil.which(CHP)
    if on_path:
        return Path(on_path)
    raise ProxyNotFound(f"{CHP} (the front proxy) was not found.", hint=INSTALL_HINT)


def check_node() -> None:
    if shutil.which("node") is None:
        raise ProxyNotFound("Node.js (`node`) was not found; the front proxy needs it.",
                            hint="Install it with `apt-get install nodejs`.")


def proxy_spec(settings: ProxySettings, token: str) -> ChildSpec:
    api = f"http://127.0.0.1:{settings.api_port}"
    return ChildSpec(
        name="proxy",
        description="front proxy",
        argv=[str(find_proxy_command(settings)), "--ip", settings.host, "--port", str(settings.port),
              "--api-ip", "127.0.0.1", "--api-port", str(settings.api_port),
              "--error-path", str(PROXY_ERROR_PAGES), "--log-level", "info"],
        env={"CONFIGPROXY_AUTH_TOKEN": token},
        ready=http_ok(f"{api}/api/routes", headers={"Authorization": f"token {token}"}),
        health=http_ok(f"{api}/api/routes", headers={"Authorization": f"token {token}"}),
        address=f"{settings.host}:{settings.port} (api 127.0.0.1:{settings.api_port})",
        ports=(Port(settings.host, settings.port, "proxy.port"),
               Port("127.0.0.1", settings.api_port, "proxy.api_port")),
    )
