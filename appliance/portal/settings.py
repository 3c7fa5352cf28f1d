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
        "Connect issuer and the base of every link the hubs are given. Empty means http://<host>:<port> "
        "(127.0.0.1 when host is 0.0.0.0).",
    )

    def url(self) -> str:
        """The portal's public URL, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"
