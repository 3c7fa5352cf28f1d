"""`appliance storage …`: tokens, keys, import and export of members' files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from appliance.cli_common import Options


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
    from appliance.audit import cli_actor
    from appliance.cli_common import cli_recorder, database
    from appliance.storage.crypto import MasterKeyFile
    from appliance.storage.keys import rotate_master_key

    config = options.load()
    with database(options) as engine, cli_recorder(options) as record:
        count = rotate_master_key(engine, MasterKeyFile(config.home.secrets_dir), retire_old)
        record(cli_actor(), "master-key.rotated", "storage", {"data_keys_rewrapped": count, "old_retired": retire_old})
    click.echo(f"re-wrapped {count} data key(s) with a new master key"
               + ("; the old master keys were retired." if retire_old else "; old master keys are kept until "
                  "you run this with --retire-old."))


@storage.command("reencrypt")
@click.argument("username")
@click.pass_obj
def storage_reencrypt(options: Options, username: str) -> None:
    """Give USERNAME a new data key and re-encrypt all their files and checkpoints."""
    from appliance.cli_common import database
    from appliance.identity.accounts import normalize_username
    from appliance.storage.crypto import MasterKeyFile
    from appliance.storage.keys import reencrypt

    config = options.load()
    with database(options) as engine, click.progressbar(length=1, label=f"re-encrypting {username}") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(1)

        count = reencrypt(engine, MasterKeyFile(config.home.secrets_dir), normalize_username(username), progress)
    click.echo(f"re-encrypted {count} stored version(s) (files and checkpoints) of {username} with a new data key.")


def _run_transfer(options: Options, username: str, work: Callable[..., Any], directory: Path, verb: str,
                  total: int) -> None:
    import asyncio

    from appliance.identity.accounts import normalize_username
    from appliance.postgres import database_url
    from appliance.storage import Storage

    config = options.load()
    member = normalize_username(username)

    async def run() -> Any:
        service = Storage(database_url(config.home, config.postgres), config.storage, config.home, pool_size=2)
        await service.open()
        try:
            with click.progressbar(length=max(total, 1), label=f"{verb} {member}", show_pos=True) as bar:
                return await work(service.store, member, directory, lambda path, size: bar.update(1))
        finally:
            await service.close()

    report = asyncio.run(run())
    click.echo(f"{verb} {report.files} file(s) and {report.directories} folder(s), {report.bytes:,} bytes.")
    for path, why in report.skipped:
        click.echo(f"  skipped {path}: {why}", err=True)


@storage.command("import")
@click.argument("username")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def storage_import(options: Options, username: str, directory: Path) -> None:
    """Copy DIRECTORY (e.g. a home directory's notebooks) into USERNAME's files, keeping its layout."""
    from appliance.storage.transfer import import_tree, plan_import

    _run_transfer(options, username, import_tree, directory, "imported", len(plan_import(directory)[1]))


@storage.command("export")
@click.argument("username")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def storage_export(options: Options, username: str, directory: Path) -> None:
    """Write all of USERNAME's files into DIRECTORY (which must be empty or not exist yet)."""
    from appliance.errors import ApplianceError
    from appliance.storage.transfer import export_tree

    if directory.exists() and any(directory.iterdir()):
        raise ApplianceError(f"{directory} is not empty; export into a new or empty directory.")
    directory.mkdir(parents=True, exist_ok=True)
    _run_transfer(options, username, export_tree, directory, "exported", 0)
