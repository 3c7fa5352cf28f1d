"""[portal]: the portal process (home page, status; later identity, discovery, storage, gallery)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.knobs import knob


@dataclass(frozen=True)
class PortalSettings:
    """[portal] The portal origin: the lab's front door."""

    host: str = knob(
        "127.0.0.1",
        "Address the portal listens on. 0.0.0.0 serves every interface (`appliance up --public` sets "
        "it). Applies when the portal restarts.",
    )
    port: int = knob(8000, "TCP port of the portal origin.")
    public_url: str = knob(
        "",
        "The URL members type to reach the portal, e.g. https://lab.example.org. It is the OpenID "
        "Connect issuer and the base of every link the hubs are given. Empty means the trial names when "
        "everything listens on loopback: http://lab.localhost:<proxy.port>, with the hubs on "
        "hub.lab.localhost and each member on <name>.hub.lab.localhost (browsers resolve *.localhost "
        "without DNS); otherwise http://<host>:<port> (127.0.0.1 when host is 0.0.0.0), where members are "
        "not isolated from each other.",
    )
