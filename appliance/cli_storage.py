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


@storage.command("rotate-master-key")
@click.option("--retire-old", is_flag=True, help="Remove the previous master keys once every data key is re-wrapped.")
@click.pass_obj
def storage_rotate_master_key(options: Options, retire_old: bool) -> None:
    """Add a new master key and re-wrap every member's data key with it (files are not re-encrypted)."""
    from appliance.cli_identity import database
    from appliance.storage.crypto import MasterKeyFile
    from appliance.storage.keys import rotate_master_key

    config = options.load()
    with database(options) as engine:
        count = rotate_master_key(engine, MasterKeyFile(config.home.secrets_dir), retire_old)
    click.echo(f"re-wrapped {count} data key(s) with a new master key"
               + ("; the old master keys were retired." if retire_old else "; old master keys are kept until "
                  "you run this with --retire-old."))


@storage.command("reencrypt")
@click.argument("username")
@click.pass_obj
def storage_reencrypt(options: Options, username: str) -> None:
    """Give USERNAME a new data key and re-encrypt all their files and checkpoints."""
    from appliance.cli_identity import database
    from appliance.identity.accounts import normalize_username
    from appliance.storage.crypto import MasterKeyFile
    from appliance.storage.keys import reencrypt

    config = options.load()
    with database(options) as engine, click.progressbar(length=1, label=f"re-encrypting {username}") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(1)

        count = reencrypt(engine, MasterKeyFile(config.home.secrets_dir), normalize_username(username), progress)
    click.echo(f"re-encrypted {count} file(s) and checkpoint(s) of {username} with a new data key.")
