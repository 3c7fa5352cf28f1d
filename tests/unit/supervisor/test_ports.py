"""A busy port is refused with its holder and the knob to change."""

from __future__ import annotations

import os
import socket

import pytest

from appliance.supervisor.ports import PortInUse, check_port_free


def test_free_port_passes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_port_free("127.0.0.1", port, "the portal", "portal.port")


def test_busy_port_names_holder_and_knob() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as error:
            check_port_free("127.0.0.1", port, "the portal", "portal.port")
    assert f"port {port} (the portal) is already in use by pid {os.getpid()}" in str(error.value)
    assert "portal.port" in str(error.value) and "APPLIANCE_PORTAL_PORT" in str(error.value)
