"""Checking that a port is free before a child is started, and naming who holds it if not; the ports the
supervisor listens on for a child that inherits them (``ChildSpec.inherits_ports``)."""

from __future__ import annotations

import errno
import os
import socket

import psutil

from appliance.errors import ApplianceError
from appliance.supervisor.spec import ChildSpec

# the descriptors of the listening sockets a child inherits, comma-separated, in the order of its spec's ports
LISTEN_FDS_ENV = "APPLIANCE_LISTEN_FDS"
BACKLOG = 2048  # uvicorn's: connections that arrive while the child restarts wait here


class PortInUse(ApplianceError):
    """A port the appliance needs is held by another process."""


def holder_of(port: int) -> str:
    """Who listens on ``port``, as "pid 123 (python3 -m http.server)", or "an unknown process"."""
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, PermissionError):
        return "another process (run as root to see which)"
    for connection in connections:
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            if connection.pid is None:
                return "another user's process"
            try:
                process = psutil.Process(connection.pid)
                command = " ".join(process.cmdline()) or process.name()
            except psutil.Error:
                command = "?"
            return f"pid {connection.pid} ({command[:80]})"
    return "an unknown process"


def check_ports_free(spec: ChildSpec) -> None:
    """Raise PortInUse for the first of the child's ports another process holds."""
    for port in spec.ports:
        check_port_free(port.host, port.port, f"the {spec.description or spec.name}", port.knob)


def check_port_free(host: str, port: int, what: str, knob: str) -> None:
    """Raise PortInUse, naming the holder and the knob to change, if host:port cannot be bound."""
    bind_port(host, port, what, knob).close()


def bind_port(host: str, port: int, what: str, knob: str) -> socket.socket:
    """A TCP socket bound to host:port as servers bind (SO_REUSEADDR), or PortInUse naming the holder and the
    knob to change."""
    bound = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        bound.bind((host, port))
    except OSError as exc:
        bound.close()
        if exc.errno != errno.EADDRINUSE:
            raise PortInUse(f"cannot bind {host}:{port} for {what}: {exc.strerror}.") from None
        raise PortInUse(
            f"port {port} ({what}) is already in use by {holder_of(port)}.",
            hint=f"Stop that process, or choose another port with `{knob}` in appliance.toml "
            f"(or APPLIANCE_{knob.replace('.', '_').upper()}).",
        ) from None
    return bound


def listen_on_ports(spec: ChildSpec) -> list[socket.socket]:
    """The child's ports, bound and listening, for its processes to inherit; PortInUse if one is held."""
    sockets: list[socket.socket] = []
    try:
        for port in spec.ports:
            sockets.append(bind_port(port.host, port.port, f"the {spec.description or spec.name}", port.knob))
            sockets[-1].listen(BACKLOG)
    except PortInUse:
        for opened in sockets:
            opened.close()
        raise
    return sockets


def inherited_sockets() -> list[socket.socket] | None:
    """In a child that inherits its ports: the listening sockets, in the order of its spec's ports; None in a
    process started otherwise (it binds its own)."""
    descriptors = os.environ.get(LISTEN_FDS_ENV, "")
    return [socket.socket(fileno=int(fd)) for fd in descriptors.split(",")] if descriptors else None
