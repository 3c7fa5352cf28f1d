"""[nodes]: machines that run hubs for this appliance (hub nodes), and a hub node's link to its portal."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from appliance.errors import ConfigError
from appliance.knobs import knob

HUBS_PER_NODE = 100  # node N's hubs are N01, N02, …: never one of the portal machine's own (hubs.count ≤ 64)


@dataclass(frozen=True)
class NodesSettings:
    """[nodes] Hub nodes: more machines running hubs for one portal (appliance nodes token, appliance join)."""

    address: str = knob(
        "", "This machine's address on the lab's private network between the appliance's machines, e.g. 10.0.0.5. "
            "On the portal's machine: where hub nodes reach its portal (and, with the embedded PostgreSQL, its "
            "database); on a hub node: where its proxy and hubs listen for the portal. Empty: one machine, all on "
            "loopback.")
    portal_url: str = knob(
        "", "Set on a hub node only (`appliance join` writes it): the portal as this machine reaches it, e.g. "
            "http://10.0.0.5:8000. A hub node runs its proxy and its hubs, no portal and no PostgreSQL.")
    first_hub: int = knob(
        0, "Set on a hub node only (`appliance join` writes it): the id of its first hub; hubs.count hubs follow.")
    token_lifetime_s: int = knob(
        3600, "Seconds a join token made by `appliance nodes token` stays usable (it is used once).")

    def __post_init__(self) -> None:
        if self.address:
            try:
                ipaddress.ip_address(self.address)
            except ValueError:
                raise ConfigError(f"nodes.address = {self.address!r}: must be an IP address of this machine, "
                                  "e.g. 10.0.0.5, or empty.") from None
        if self.portal_url and urlsplit(self.portal_url).scheme not in ("http", "https"):
            raise ConfigError(f"nodes.portal_url = {self.portal_url!r}: must be an http:// or https:// URL, "
                              "e.g. http://10.0.0.5:8000, or empty.")
        if bool(self.portal_url) != bool(self.first_hub):
            raise ConfigError("nodes.portal_url and nodes.first_hub are set together, by `appliance join`; run it "
                              "again, or empty both to make this machine a portal again.")
        if self.first_hub and (self.first_hub < HUBS_PER_NODE or self.first_hub % HUBS_PER_NODE != 1):
            raise ConfigError(f"nodes.first_hub = {self.first_hub}: must be a node's first hub (101, 201, …), as "
                              "`appliance join` writes it.")
        if self.token_lifetime_s <= 0:
            raise ConfigError(f"nodes.token_lifetime_s = {self.token_lifetime_s}: must be more than 0, e.g. 3600.")

    @property
    def is_hub_node(self) -> bool:
        return bool(self.portal_url)
