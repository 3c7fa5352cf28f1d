"""The control socket: `appliance status|stop|restart` talk to the running supervisor through it.

Protocol: the client sends one JSON object on one line ({"command": "status"}), the server answers
with one JSON object on one line and closes. The socket file has mode 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError, NotRunning

log = logging.getLogger("appliance.supervisor")
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlServer:
    def __init__(self, path: Path, handler: Handler):
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)  # the socket is created 0600, never briefly wider
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("request must be a JSON object")
                response = await self.handler(request)
            except (ValueError, KeyError) as exc:
                response = {"ok": False, "error": f"bad request: {exc}"}
            except ApplianceError as exc:
                response = {"ok": False, "error": exc.message, "hint": exc.hint}
            writer.write(json.dumps(response).encode() + b"\n")
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("control request failed")
        finally:
            writer.close()


def send_command(path: Path, request: dict[str, Any], timeout_s: float = 30.0) -> dict[str, Any]:
    """Send one request to the supervisor listening on ``path``. Raises NotRunning if none is."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s)
        try:
            client.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunning(f"appliance is not running (no supervisor answers on {path}).",
                             hint="Start it with `appliance up`.") from None
        client.sendall(json.dumps(request).encode() + b"\n")
        chunks = []
        try:
            while chunk := client.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            raise ApplianceError(f"the supervisor did not answer `{request.get('command')}` within "
                                 f"{timeout_s:.0f} s; see its log with `appliance logs supervisor`.") from None
    if not chunks:
        raise ApplianceError("the supervisor closed the control connection without an answer; "
                             "see `appliance logs supervisor`.")
    response: dict[str, Any] = json.loads(b"".join(chunks))
    if not response.get("ok", False):
        raise ApplianceError(response.get("error", "the supervisor refused the request"), hint=response.get("hint"))
    return response


class SupervisorClient:
    """The control socket for a process inside the event loop (the portal's admin console): each call runs
    ``send_command`` in a thread."""

    def __init__(self, path: Path, timeout_s: float = 30.0):
        self.path = path
        self.timeout_s = timeout_s

    async def status(self) -> dict[str, Any] | None:
        """The supervisor's status report (``appliance status``'s), or None when no supervisor answers."""
        with contextlib.suppress(NotRunning):
            return await asyncio.to_thread(send_command, self.path, {"command": "status"}, 10.0)
        return None

    async def restart(self, component: str) -> list[str]:
        """Restart one component; returns once it has been stopped (the supervisor starts it again)."""
        answer = await asyncio.to_thread(send_command, self.path, {"command": "restart", "component": component},
                                         self.timeout_s)
        return list(answer["restarted"])
