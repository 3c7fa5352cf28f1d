"""`appliance users …` and `appliance clients …`: accounts and OAuth clients from the command line."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from appliance.audit import cli_actor
from appliance.cli_audit import cli_recorder
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from appliance.cli import Options
    from appliance.identity import AccountTable, ClientTable


@contextlib.contextmanager
def database(options: Options) -> Iterator[Engine]:
    """The appliance's database, with an unreachable one turned into a message saying what to do."""
    from psycopg.errors import UndefinedTable
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from appliance.db import make_engine
    from appliance.postgres import database_url

    config = options.load()
    engine = make_engine(database_url(config.home, config.postgres), pool_size=1)
    try:
        yield engine
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ApplianceError(f"cannot reach the appliance's database ({reason}).",
                             hint="Is the appliance running? Start it with `appliance up`.") from None
    except ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable):
            raise
        raise ApplianceError("the database has not been migrated to this version of appliance yet.",
                             hint="Run `appliance db upgrade` (or restart the appliance, which migrates).") from None
    finally:
        engine.dispose()


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


def read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ApplianceError("no password on standard input.")
    return password


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


# ----- users -----------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Manage accounts: who may sign in."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name, e.g. 'Ada Lovelace'.")
@click.option("--email", default="", help="Email address.")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option("--group", "groups", multiple=True, help="A group to put the account in (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of "
              "generating one.")
@click.pass_obj
def users_add(options: Options, username: str, display_name: str, email: str, admin: bool,
              groups: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account. A generated password is printed once."""
    from appliance.identity.passwords import generate_password

    password = read_password(password_stdin) or generate_password()
    with account_table(options) as accounts:
        account = accounts.create(username, password, display_name=display_name, email=email, groups=groups,
                                  is_admin=admin)
    click.echo(f"created {account.username}" + ("" if password_stdin else f"; password: {password}"))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def users_list(options: Options, as_json: bool) -> None:
    """List the accounts."""
    with account_table(options) as accounts:
        found = accounts.list()
    if as_json:
        echo_json([account.public() for account in found])
        return
    click.echo(f"{'USERNAME':<20} {'NAME':<24} {'ADMIN':<6} {'STATE':<9} GROUPS")
    for account in found:
        click.echo(f"{account.username:<20} {account.display_name[:24]:<24} {'yes' if account.is_admin else '':<6} "
                   f"{'disabled' if account.disabled else 'active':<9} {', '.join(account.groups)}")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(options: Options, username: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions and tokens end now."""
    with account_table(options) as accounts:
        accounts.set_disabled(username, True)
    click.echo(f"disabled {username}; its sessions and tokens were revoked.")


@users.command("enable")
@click.argument("username")
@click.pass_obj
def users_enable(options: Options, username: str) -> None:
    """Enable a disabled account."""
    with account_table(options) as accounts:
        accounts.set_disabled(username, False)
    click.echo(f"enabled {username}.")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.pass_obj
def users_set_password(options: Options, username: str, password_stdin: bool) -> None:
    """Set a new password (generated and printed unless given); ends the account's sessions."""
    from appliance.identity.first_admin import forget_initial_admin
    from appliance.identity.passwords import generate_password

    password = read_password(password_stdin) or generate_password()
    with account_table(options) as accounts:
        accounts.set_password(username, password)
    forget_initial_admin(options.load().home, username.casefold())
    click.echo(f"password of {username} changed" + ("." if password_stdin else f": {password}"))


@users.command("make-admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the administrator role away instead.")
@click.pass_obj
def users_make_admin(options: Options, username: str, revoke: bool) -> None:
    """Make an account an administrator (or, with --revoke, no longer one)."""
    with account_table(options) as accounts:
        if revoke and accounts.require(username).is_admin and accounts.count_admins() <= 1:
            raise ApplianceError(f"{username} is the last administrator; make someone else one first.")
        accounts.set_admin(username, not revoke)
    click.echo(f"{username} is {'no longer' if revoke else 'now'} an administrator.")


@users.command("groups")
@click.argument("username")
@click.option("--add", "added", multiple=True, help="Group to add (repeatable).")
@click.option("--remove", "removed", multiple=True, help="Group to remove (repeatable).")
@click.pass_obj
def users_groups(options: Options, username: str, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Show an account's groups, or change them with --add and --remove."""
    with account_table(options) as accounts:
        groups = set(accounts.require(username).groups)
        if added or removed:
            groups = (groups | set(added)) - set(removed)
            accounts.set_groups(username, groups)
    click.echo(", ".join(sorted(groups)) or "(no groups)")


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
