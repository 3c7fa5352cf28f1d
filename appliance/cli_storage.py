"""`appliance storage …`: tokens, keys, import and export of members' files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from appliance.cli import Options


@click.group()
def storage() -> None:
    """Members' notebooks and files in the database."""


@storage.command("token")
@click.argument("username")
@click.option("--lifetime", "lifetime_s", type=int, default=None,
              help="Seconds the token is valid [default: storage.token_lifetime_s].")
@click.pass_obj
def storage_token(options: Options, username: str, lifetime_s: int | None) -> None:
    """Print a storage token for USERNAME's files (for tools and tests)."""
    from appliance.identity.accounts import normalize_username
    from appliance.storage import storage_tokens

    config = options.load()
    click.echo(storage_tokens(config.home, config.storage).mint(normalize_username(username), lifetime_s))
