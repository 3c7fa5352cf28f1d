"""Hub nodes' settings and the addresses a node derives from them (pure logic; tests/inprocess/test_nodes_join.py
and tests/integration/test_hub_nodes.py run the join and the node for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.application.children import build_children
from appliance.config import load_config
from appliance.errors import ConfigError
from appliance.nodes import Node

NODE = {"APPLIANCE_NODES_PORTAL_URL": "http://10.0.0.5:8000", "APPLIANCE_NODES_FIRST_HUB": "201",
        "APPLIANCE_NODES_ADDRESS": "10.0.0.6", "APPLIANCE_HUBS_COUNT": "2",
        "APPLIANCE_PORTAL_PUBLIC_URL": "https://lab.example.org", "APPLIANCE_HUBS_PUBLIC_URL": "https://hub.lab.example.org",
        "APPLIANCE_POSTGRES_URL": "postgresql://node_2:pw@10.0.0.5:5432/appliance?sslmode=require"}


def test_a_hub_node_runs_its_proxy_and_its_hubs_which_reach_the_portal_over_the_private_network(
        tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ=NODE)
    addresses = config.addresses
    assert config.nodes.is_hub_node and addresses.hub_ids == ["201", "202"]
    first = config.hubs.first_port
    assert addresses.api_port("201") == first and addresses.api_port("202") == first + 1
    assert addresses.portal_local == "http://10.0.0.5:8000" and addresses.hub_ip == "10.0.0.6"
    assert addresses.portal_private_url == "http://10.0.0.5:8000"  # its members' servers, Slurm jobs included
    assert addresses.hub_api_url("202") == f"http://10.0.0.6:{first + 1}/hubs/202/hub/api/"
    assert addresses.members_isolated and addresses.hub_origin == "https://hub.lab.example.org"
    children = build_children(config)
    assert [child.name for child in children] == ["proxy", "hub-201", "hub-202"]
    proxy = children[0]
    assert "--host-routing" in proxy.argv and "--no-x-forward" in proxy.argv  # the portal's front proxy set them


def test_the_portal_machine_keeps_its_own_hubs_on_loopback_without_a_private_address(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={})
    assert not config.nodes.is_hub_node and config.addresses.hub_ids == ["1", "2"]
    assert config.addresses.hub_ip == "127.0.0.1"
    assert config.addresses.portal_private_url == config.addresses.portal_local == "http://127.0.0.1:8000"


def test_with_a_private_address_the_portal_machines_hubs_and_servers_reach_each_other_there(tmp_path: Path) -> None:
    """What a Slurm job on another compute node needs of the portal machine's own hub: its API and the storage API
    at the machine's address on the cluster's network; the appliance's own processes keep to loopback."""
    config = load_config(home=tmp_path, environ={"APPLIANCE_NODES_ADDRESS": "10.0.0.5"})
    addresses = config.addresses
    assert addresses.hub_ip == "10.0.0.5" and addresses.hub_api_url("1").startswith("http://10.0.0.5:")
    assert addresses.portal_private_url == "http://10.0.0.5:8000"
    assert addresses.portal_local == "http://127.0.0.1:8000"


@pytest.mark.parametrize(("environ", "says"), [
    ({"APPLIANCE_NODES_ADDRESS": "node-a.lab"}, "must be an IP address"),
    ({"APPLIANCE_NODES_PORTAL_URL": "10.0.0.5:8000", "APPLIANCE_NODES_FIRST_HUB": "101"}, "http:// or https://"),
    ({"APPLIANCE_NODES_PORTAL_URL": "http://10.0.0.5:8000"}, "set together, by `appliance join`"),
    ({"APPLIANCE_NODES_FIRST_HUB": "101"}, "set together"),
    ({"APPLIANCE_NODES_PORTAL_URL": "http://10.0.0.5:8000", "APPLIANCE_NODES_FIRST_HUB": "3"}, "101, 201"),
    ({"APPLIANCE_NODES_TOKEN_LIFETIME_S": "0"}, "more than 0"),
])
def test_nodes_settings_that_cannot_work_are_refused_with_the_fix(tmp_path: Path, environ: dict[str, str],
                                                                 says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_config(home=tmp_path, environ=environ)


def test_a_nodes_hubs_are_numbered_after_it_and_reached_at_its_address() -> None:
    node = Node(number=3, name="node-c", address="fd00::6", proxy_port=8001, first_api_port=8010, hub_count=2,
                removing=False)
    assert node.hub_ids == ["301", "302"]
    assert node.api_port("302") == 8011
    assert node.proxy_url == "http://[fd00::6]:8001"
