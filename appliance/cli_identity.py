"""`appliance users …` and `appliance clients …`: accounts and OAuth clients from the command line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from appliance.audit import cli_actor
from appliance.cli_common import cli_recorder, database, echo_json

if TYPE_CHECKING:
    from appliance.cli_common import Options
    from appliance.identity import AccountTable, ClientTable


@contextlib.contextmanager
def account_table(options: Options) -> Iterator[AccountTable]:
    from appliance.identity import AccountTable

    config = options.load()
    with database(options) as engine:
        yield AccountTable(engine, config.identity.min_password_length)


@contextlib.contextmanager
def client_table(options: Options) -> Iterator[ClientTable]:
    from appliance.identity import ClientTable

    with database(options) as engine:
        yield ClientTable(engine)


# ----- clients ---------------------------------------------------------------------------------------

@click.group()
def clients() -> None:
    """Manage OAuth clients: applications that sign people in with their lab account."""


@clients.command("add")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="An exact redirect URI the client may use (repeatable).")
@click.option("--name", default="", help="Name shown on the consent page.")
@click.option("--first-party", is_flag=True, help="Trusted like the hubs: no consent page.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def clients_add(options: Options, client_id: str, redirect_uris: tuple[str, ...], name: str, first_party: bool,
                as_json: bool) -> None:
    """Register a client. Its secret is printed once and stored only as a digest."""
    with client_table(options) as table, cli_recorder(options) as record:
        client, secret = table.add(client_id, redirect_uris, name=name, first_party=first_party)
        record(cli_actor(), "oauth-client.added", client.client_id, client.public())
    if as_json:
        echo_json({**client.public(), "client_secret": secret})
    else:
        click.echo(f"client_id:     {client.client_id}\nclient_secret: {secret}  (shown once)")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def clients_list(options: Options, as_json: bool) -> None:
    """List the registered clients."""
    with client_table(options) as table:
        found = table.list()
    if as_json:
        echo_json([client.public() for client in found])
        return
    for client in found:
        click.echo(f"{client.client_id:<20} {'first-party' if client.first_party else 'consent':<12} "
                   f"{' '.join(client.redirect_uris)}")


@clients.command("remove")
@click.argument("client_id")
@click.pass_obj
def clients_remove(options: Options, client_id: str) -> None:
    """Remove a client; its codes and tokens stop working."""
    with client_table(options) as table, cli_recorder(options) as record:
        table.remove(client_id)
        record(cli_actor(), "oauth-client.removed", client_id)
    click.echo(f"removed {client_id}.")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.pass_obj
def clients_rotate_secret(options: Options, client_id: str) -> None:
    """Replace a client's secret; the old one stops working now."""
    with client_table(options) as table, cli_recorder(options) as record:
        secret = table.rotate_secret(client_id)
        record(cli_actor(), "oauth-client.secret-rotated", client_id)
    click.echo(f"client_secret: {secret}  (shown once)")
