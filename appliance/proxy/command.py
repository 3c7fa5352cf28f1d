"""Where configurable-http-proxy and Node.js are, or why they are not."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from appliance.errors import ApplianceError
from appliance.proxy.settings import CHP, ProxySettings

INSTALL_HINT = (
    f"Run installer/install.sh, or install it next to appliance with `npm install --prefix {sys.prefix} "
    f"{CHP}@5` (Node.js 20+; use @4.6 on Node.js 18), or set proxy.command."
)


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
