"""Checking that a port is free before a child is started, and naming who holds it if not."""

from __future__ import annotations

import errno
import socket

import psutil

from appliance.errors import ApplianceError
from appliance.supervisor.spec import ChildSpec


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
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUse(f"cannot bind {host}:{port} for {what}: {exc.strerror}.") from None
            raise PortInUse(
                f"port {port} ({what}) is already in use by {holder_of(port)}.",
                hint=f"Stop that process, or choose another port with `{knob}` in appliance.toml "
                f"(or APPLIANCE_{knob.replace('.', '_').upper()}).",
            ) from None
