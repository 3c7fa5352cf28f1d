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
