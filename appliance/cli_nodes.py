"""`appliance nodes …` on the portal's machine (join tokens, the nodes, removing one) and `appliance join` on a
machine that becomes a hub node."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import click

from appliance.cli_common import database, echo_json, run_on_database
from appliance.errors import ApplianceError
from appliance.home import write_private

if TYPE_CHECKING:
    from appliance.cli_common import Options

CA_FILE_NAME = "postgres-ca.pem"  # in the node's home: the CA that verifies the portal's database


@click.group()
def nodes() -> None:
    """Hub nodes: more machines running hubs for this portal."""


@nodes.command("token")
@click.pass_obj
def nodes_token(options: Options) -> None:
    """Make a join token (single-use, expires after nodes.token_lifetime_s) and print the command that joins a
    machine with it."""
    from appliance.nodes import NodeDirectory

    config = options.load()
    if config.nodes.is_hub_node:
        raise ApplianceError("this machine is a hub node; make join tokens on the portal's machine.")
    with database(options) as engine:
        token = NodeDirectory(engine).new_token(config.nodes.token_lifetime_s)
    minutes = config.nodes.token_lifetime_s / 60
    click.echo(f"On the new machine, within {minutes:.0f} minutes (the token works once):\n\n"
               f"  appliance join {config.addresses.portal_private_url} --token {token}\n")
    if not config.nodes.address:
        click.echo("nodes.address is not set: the portal is reached on loopback, so only a node on this machine "
                   "can join. Set it to this machine's private address for others: "
                   "appliance config set nodes.address=10.0.0.5")


@nodes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def nodes_list(options: Options, as_json: bool) -> None:
    """List the hub nodes and their hubs."""
    from appliance.nodes import NodeDirectory

    with database(options) as engine:
        found = NodeDirectory(engine).nodes()
    if as_json:
        echo_json([node.to_json() for node in found])
        return
    click.echo(f"{'NODE':<5} {'NAME':<24} {'ADDRESS':<18} {'PROXY':>6} HUBS")
    for node in found:
        state = " (being removed)" if node.removing else ""
        click.echo(f"{node.number:<5} {node.name:<24} {node.address:<18} {node.proxy_port:>6} "
                   f"{', '.join(node.hub_ids)}{state}")


@nodes.command("remove")
@click.argument("name")
@click.pass_obj
def nodes_remove(options: Options, name: str) -> None:
    """Remove the node NAME: its hubs drain, its members' servers stop, and each member is placed on another hub
    at their next visit. Then stop the appliance on that machine."""
    from appliance.application.nodes import remove_node
    from appliance.discovery import Discovery
    from appliance.nodes import NodeDirectory
    from appliance.postgres import database_url

    config = options.load()

    async def work() -> None:
        discovery = Discovery(database_url(config.home, config.postgres), config.discovery, config.home, pool_size=1)
        await discovery.open(reap=False)
        try:
            await remove_node(config, NodeDirectory(engine), discovery.registry, name, click.echo)
        finally:
            await discovery.close()

    with database(options) as engine:
        run_on_database(work)
    click.echo(f"node {name} removed. On it, stop the appliance: systemctl stop appliance (or appliance stop).")


@click.command()
@click.argument("portal_url")
@click.option("--token", required=True, help="The join token `appliance nodes token` printed on the portal's machine.")
@click.option("--address", help="This machine's address on the private network, where the portal reaches its hubs "
                                "(default: nodes.address, else 127.0.0.1).")
@click.option("--name", help="The name this machine joins as (default: its host name).")
@click.pass_obj
def join(options: Options, portal_url: str, token: str, address: str | None, name: str | None) -> None:
    """Make this machine a hub node of the portal at PORTAL_URL: it then runs its proxy and hubs.count hubs,
    which the portal places members on. Writes the configuration and the hubs' secrets; start it afterwards."""
    import httpx

    from appliance.config import CONFIG_FILE_NAME, set_values

    config = options.load()
    address = address or config.nodes.address or "127.0.0.1"
    request = {"token": token, "name": (name or socket.gethostname()).lower(), "address": address,
               "proxy_port": config.proxy.port, "first_api_port": config.hubs.first_port,
               "hub_count": config.hubs.count}
    try:
        response = httpx.post(f"{portal_url.rstrip('/')}/api/nodes/v1/join", json=request, timeout=30,
                              trust_env=False)
    except httpx.HTTPError as error:
        raise ApplianceError(f"cannot reach the portal at {portal_url} ({type(error).__name__}).",
                             hint="Check the URL `appliance nodes token` printed, and that this machine reaches it "
                                  "(the portal's nodes.address and portal.host).") from None
    if response.status_code != 200:
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        raise ApplianceError(f"the portal refused to let this machine join: {message}")
    answer = response.json()
    for secret, value in answer["secrets"].items():
        config.home.write_secret(secret, value)
    settings = {key: str(value) for key, value in answer["settings"].items()}
    settings.update({"nodes.portal_url": portal_url.rstrip("/"), "nodes.address": address})
    if answer["postgres_ca"]:
        ca_file = config.home.root / CA_FILE_NAME
        write_private(ca_file, answer["postgres_ca"])
        settings["postgres.ca_file"] = str(ca_file)
    file = options.config_file or config.file or config.home.root / CONFIG_FILE_NAME
    set_values(file, settings)
    node = answer["node"]
    click.echo(f"Joined as node {node['number']} ({node['name']}) with hubs {', '.join(node['hubs'])}; {file} "
               "written. Start it: systemctl restart appliance (or appliance up --detach).")

