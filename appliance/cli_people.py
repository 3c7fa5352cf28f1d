"""`appliance users …`: people and admin tokens from the command line, through the console's own functions
(appliance.admin.people), recorded in the audit log as ``cli:<system user>``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from appliance.cli_common import database, echo_json, read_password

if TYPE_CHECKING:
    from appliance.admin.people import People
    from appliance.cli_common import Options
    from appliance.identity import Account

HOW_HELP = "Give a one-time sign-up link (valid 7 days) instead of a password."


@contextlib.contextmanager
def people_of(options: Options) -> Iterator[tuple[People, Any]]:
    """The People functions on the appliance's database, and the command line's audit actor."""
    from appliance.admin.people import People
    from appliance.audit import cli_actor
    from appliance.cli_common import cli_recorder

    config = options.load()
    with database(options) as engine, cli_recorder(options) as record:
        yield People.make(engine, config.identity.min_password_length, config.addresses.portal_origin,
                          record), cli_actor()


def every_account(people: People, **query: Any) -> Iterator[Account]:
    from appliance.identity.directory import MAX_LIMIT, AccountQuery

    after = ""
    while True:
        page = people.search(AccountQuery(after=after, limit=MAX_LIMIT, **query))
        yield from page.accounts
        if page.next_cursor is None:
            return
        after = page.next_cursor


@click.group()
def users() -> None:
    """Manage people: who may sign in, as what, in which groups."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name, e.g. 'Ada Lovelace'.")
@click.option("--email", default="", help="Email address.")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option("--group", "groups", multiple=True, help="A group to put the account in (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of "
              "generating one.")
@click.option("--link", is_flag=True, help=HOW_HELP)
@click.pass_obj
def users_add(options: Options, username: str, display_name: str, email: str, admin: bool,
              groups: tuple[str, ...], password_stdin: bool, link: bool) -> None:
    """Create an account. A generated password (or a sign-up link) is printed once."""
    from appliance.admin.people import NewPerson

    password = read_password(password_stdin)
    with people_of(options) as (people, actor):
        access = people.create(actor, NewPerson(username, display_name, email, groups, admin),
                               "link" if link else "password", password)
    shown = (f"; sign-up link: {access.link}" if access.link else "" if password_stdin
             else f"; password: {access.password}")
    click.echo(f"created {access.account.username}{shown}")


@users.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", is_flag=True, help="Create the good rows; without it, only check every row.")
@click.option("--password", "passwords", is_flag=True, help="Generate a password each instead of a sign-up link.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def users_import(options: Options, csv_file: Path, apply: bool, passwords: bool, as_json: bool) -> None:
    """Import people from CSV (header: username,name,email,groups,admin), checking every row first."""
    from appliance.admin import csv_import

    text = csv_file.read_text(encoding="utf-8", errors="replace")
    with people_of(options) as (people, actor):
        report = (csv_import.apply(people, actor, text, "password" if passwords else "link") if apply
                  else csv_import.plan(people, text))
    if as_json:
        echo_json(report.to_json())
        return
    for row in report.rows:
        secret = (row.access.link or row.access.password) if row.access else ""
        state = f"error: {row.error}" if row.error else ("created " + (secret or "") if row.access else "ok")
        click.echo(f"line {row.line:<5} {row.username[:20]:<20} {state}")
    click.echo(f"{report.good} {'created' if apply else 'can be created'}, {report.bad} with errors"
               + ("" if apply else "; run again with --apply to create them."))


@users.command("list")
@click.option("--search", "-q", "text", default="", help="Only people with this in their username, name or email.")
@click.option("--state", type=click.Choice(["all", "active", "disabled", "admins"]), default="all",
              show_default=True, help="Only these.")
@click.option("--group", default="", help="Only members of this group.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def users_list(options: Options, text: str, state: str, group: str, as_json: bool) -> None:
    """List the accounts, by username."""
    with people_of(options) as (people, _):
        found = every_account(people, text=text, state=state, group=group)
        if as_json:
            click.echo(json.dumps([account.public() for account in found], indent=2))
            return
        click.echo(f"{'USERNAME':<20} {'NAME':<24} {'ADMIN':<6} {'STATE':<9} GROUPS")
        for account in found:
            click.echo(f"{account.username:<20} {account.display_name[:24]:<24} {'yes' if account.is_admin else '':<6} "
                       f"{'disabled' if account.disabled else 'active':<9} {', '.join(account.groups)}")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(options: Options, username: str) -> None:
    """Disable an account: it can no longer sign in, its sessions and tokens end now, its server stops."""
    with people_of(options) as (people, actor):
        people.disable(actor, username)
    click.echo(f"disabled {username}; its sessions and tokens were revoked.")


@users.command("enable")
@click.argument("username")
@click.pass_obj
def users_enable(options: Options, username: str) -> None:
    """Enable a disabled account."""
    with people_of(options) as (people, actor):
        people.enable(actor, username)
    click.echo(f"enabled {username}.")


@users.command("sign-out")
@click.argument("username")
@click.pass_obj
def users_sign_out(options: Options, username: str) -> None:
    """Sign someone out everywhere: their portal sessions, their hub and JupyterLab."""
    with people_of(options) as (people, actor):
        people.sign_out_everywhere(actor, username)
    click.echo(f"signed {username} out everywhere.")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.option("--link", is_flag=True, help=HOW_HELP)
@click.pass_obj
def users_set_password(options: Options, username: str, password_stdin: bool, link: bool) -> None:
    """Set a new password (generated and printed unless given; ends the account's sessions), or make a
    sign-up link to choose one."""
    from appliance.identity.first_admin import forget_initial_admin

    password = read_password(password_stdin)
    with people_of(options) as (people, actor):
        access = people.reset_password(actor, username, "link" if link else "password", password)
    if access.link:
        click.echo(f"sign-up link for {access.account.username}: {access.link}")
        return
    forget_initial_admin(options.load().home, access.account.username)
    click.echo(f"password of {username} changed" + ("." if password_stdin else f": {access.password}"))


@users.command("make-admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the administrator role away instead.")
@click.pass_obj
def users_make_admin(options: Options, username: str, revoke: bool) -> None:
    """Make an account an administrator (or, with --revoke, no longer one)."""
    with people_of(options) as (people, actor):
        people.set_admin(actor, username, not revoke)
    click.echo(f"{username} is {'no longer' if revoke else 'now'} an administrator.")


@users.command("groups")
@click.argument("username")
@click.option("--add", "added", multiple=True, help="Group to add (repeatable).")
@click.option("--remove", "removed", multiple=True, help="Group to remove (repeatable).")
@click.pass_obj
def users_groups(options: Options, username: str, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Show an account's groups, or change them with --add and --remove."""
    with people_of(options) as (people, actor):
        groups = set(people.get(username).groups)
        if added or removed:
            groups = (groups | set(added)) - set(removed)
            people.set_groups(actor, username, groups)
    click.echo(", ".join(sorted(groups)) or "(no groups)")


# ----- admin tokens ----------------------------------------------------------------------------------

@users.group("admin-token")
def admin_token() -> None:
    """Admin tokens: for scripts calling the admin API (Authorization: Bearer apat_…)."""


@admin_token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. the script that uses it.")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True,
              help="read may only GET; write may change things too.")
@click.option("--days", type=click.IntRange(min=0), default=90, show_default=True,
              help="Days until it expires; 0 for never (until revoked).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def admin_token_create(options: Options, username: str, name: str, scope: str, days: int, as_json: bool) -> None:
    """Make a token acting for USERNAME (an administrator). It is printed once and stored only as a digest."""
    from appliance.identity import AdminTokenTable

    with people_of(options) as (people, actor):
        token, value = AdminTokenTable(people.accounts.engine).create(people.get(username), name, scope, days)
        people.record(actor, "admin-token.created", token.account.username, {"id": token.id, "name": token.name,
                                                                             "scope": token.scope})
    if as_json:
        echo_json({**token.to_json(), "token": value})
    else:
        click.echo(f"admin token {token.id} ({token.scope}) for {token.account.username}: {value}  (shown once)")


@admin_token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def admin_token_list(options: Options, include_revoked: bool, as_json: bool) -> None:
    """List admin tokens (never their values)."""
    from appliance.identity import AdminTokenTable

    with database(options) as engine:
        found = AdminTokenTable(engine).list(include_revoked)
    if as_json:
        echo_json([token.to_json() for token in found])
        return
    click.echo(f"{'ID':<5} {'OWNER':<16} {'SCOPE':<6} {'NAME':<24} {'EXPIRES':<11} LAST USED")
    for token in found:
        expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        state = " (revoked)" if token.revoked_at else ""
        click.echo(f"{token.id:<5} {token.account.username:<16} {token.scope:<6} {token.name[:24]:<24} {expires:<11} "
                   f"{used}{state}")


@admin_token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def admin_token_revoke(options: Options, token_id: int) -> None:
    """Revoke an admin token now."""
    from appliance.identity import AdminTokenTable

    with people_of(options) as (people, actor):
        token = AdminTokenTable(people.accounts.engine).revoke(token_id)
        people.record(actor, "admin-token.revoked", token.account.username, {"id": token.id, "name": token.name})
    click.echo(f"revoked admin token {token.id} ({token.name}).")
