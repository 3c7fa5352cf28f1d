"""[proxy]: the front proxy's knobs."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob

CHP = "configurable-http-proxy"
LOG_LEVELS = ("error", "warn", "info", "debug")


@dataclass(frozen=True)
class ProxySettings:
    """[proxy] The front proxy on the hub origin (configurable-http-proxy)."""

    host: str = knob(
        "127.0.0.1",
        "Address the hub origin listens on. 0.0.0.0 serves every interface (`appliance up --public`).",
    )
    port: int = knob(8001, "TCP port of the hub origin (hubs and user servers are reached through it). When the "
                           "portal and the hubs have host names of their own (portal.public_url, hubs.public_url), "
                           "the proxy serves both on this port, telling them apart by host name.")
    api_port: int = knob(8002, "Loopback TCP port of the proxy's REST API (protected by a generated token).")
    command: str = knob(
        "",
        f"Path of the {CHP} executable. Empty looks in <venv>/node_modules/.bin, then PATH.",
    )
    tls_cert: str = knob(
        "", "PEM file with the TLS certificate chain for proxy.port, e.g. "
            "/etc/letsencrypt/live/lab.example.org/fullchain.pem; it must name both host names. Set with "
            "tls_key; the proxy then speaks only HTTPS. Read when the proxy starts: after a renewal, "
            "`appliance restart proxy`.")
    tls_key: str = knob("", "PEM file with the private key of tls_cert.")
    http_redirect_port: int = knob(
        0, "TCP port (80 in a lab) on which plain HTTP is answered with a redirect to HTTPS on proxy.port, on "
           "every interface. Needs tls_cert. 0 turns it off.")
    log_level: str = knob(
        "warn", "What the proxy logs: error, warn (refused and failed requests, and a member's server not "
                "answering), info (also every call to its API, several a minute on an idle appliance, and every "
                "route added or removed, which the hubs' logs tell too) or debug.")

    def __post_init__(self) -> None:
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"proxy.log_level = {self.log_level!r}: must be one of {', '.join(LOG_LEVELS)}.")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("proxy.tls_cert and proxy.tls_key go together: set both, or neither for plain HTTP.")
        if self.http_redirect_port and not self.tls_cert:
            raise ConfigError(f"proxy.http_redirect_port = {self.http_redirect_port} redirects to HTTPS, which "
                              "needs proxy.tls_cert and proxy.tls_key.", hint="Set them, or set the port to 0.")
