"""The join API on the portal: a machine with a join token becomes a hub node.

    POST /api/nodes/v1/join   {"token", "name", "address", "proxy_port", "first_api_port", "hub_count"}
                              → what the node needs to run its hubs (application/nodes.py: the node, its
                              configuration, its secrets)

The token is the credential: single-use and expiring (directory.py). Errors use the portal's JSON shape.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.nodes.errors import BadJoin, NodeError
from appliance.web import json_error

PATH = "/api/nodes/v1/join"
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
MAX_BODY = 4096


@dataclass(frozen=True)
class JoinRequest:
    token: str
    name: str  # the machine's host name
    address: str  # where the portal reaches its proxy and hubs
    proxy_port: int
    first_api_port: int
    hub_count: int

    @classmethod
    def from_json(cls, body: Any) -> JoinRequest:
        if not isinstance(body, dict):
            raise BadJoin("the request body must be a JSON object.")
        token, name, address = body.get("token"), body.get("name"), body.get("address")
        if not isinstance(token, str) or not token:
            raise BadJoin("a join token is required: make one on the portal's machine with `appliance nodes token`.")
        if not isinstance(name, str) or len(name) > 253 or not HOST_NAME.fullmatch(name):
            raise BadJoin(f"name {name!r}: must be the machine's host name (lowercase letters, digits, '-' and '.').")
        try:
            ipaddress.ip_address(address if isinstance(address, str) else "")
        except ValueError:
            raise BadJoin(f"address {address!r}: must be the IP address the portal reaches the machine at, e.g. "
                          "10.0.0.6 (appliance join --address).") from None
        ports = {key: body.get(key) for key in ("proxy_port", "first_api_port")}
        for key, port in ports.items():
            if not isinstance(port, int) or isinstance(port, bool) or not 1024 <= port <= 65535:
                raise BadJoin(f"{key} {port!r}: must be a TCP port from 1024 to 65535.")
        hub_count = body.get("hub_count")
        if not isinstance(hub_count, int) or isinstance(hub_count, bool) or not 1 <= hub_count <= 64:
            raise BadJoin(f"hub_count {hub_count!r}: a node runs 1 to 64 hubs.")
        return cls(token, name, str(address), int(body["proxy_port"]), int(body["first_api_port"]), hub_count)


Admit = Callable[[JoinRequest], Awaitable[dict[str, Any]]]


class JoinAPI:
    def __init__(self, admit: Admit):
        self.admit = admit

    def routes(self) -> list[Route]:
        return [Route(PATH, self.join, methods=["POST"])]

    async def join(self, request: Request) -> Response:
        try:
            body = b""
            async for chunk in request.stream():  # read no more than the limit, whatever the body's length
                body += chunk
                if len(body) > MAX_BODY:
                    raise BadJoin(f"the request body is over {MAX_BODY} bytes; a join sends a few fields only.")
            try:
                parsed = json.loads(body or b"null")
            except ValueError:
                raise BadJoin("the request body must be a JSON object.") from None
            return JSONResponse(await self.admit(JoinRequest.from_json(parsed)))
        except NodeError as error:
            return json_error(error)
