"""`appliance hubs …`: the hubs discovery knows, and draining one for maintenance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from appliance.cli_common import run_on_database
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from appliance.admin.hubs import HubsConsole, HubView
    from appliance.audit import Actor, Record
    from appliance.cli_common import Options
    from appliance.discovery import Hub, HubRegistry

T = TypeVar("T")


def with_registry(options: Options, work: Callable[[HubRegistry], Awaitable[T]]) -> T:
    """Run ``work`` on the hub registry, with an unreachable database turned into what to do."""
    return with_console(options, lambda console: work(console.registry))


def with_console(options: Options, work: Callable[[HubsConsole], Awaitable[T]]) -> T:
    """Run ``work`` on the hubs as the admin console steers them (the same functions), its changes audited
    as the operator's at the command line."""
    from appliance.admin.hubs import HubsConsole
    from appliance.cli_common import cli_recorder
    from appliance.discovery import Discovery
    from appliance.postgres import database_url
    from appliance.supervisor.control import SupervisorClient

    config = options.load()

    async def run(record: Record) -> T:
        discovery = Discovery(database_url(config.home, config.postgres), config.discovery, config.home,
                              pool_size=1)
        try:
            await discovery.open(reap=False)
            console = HubsConsole(discovery.registry, discovery.samples, SupervisorClient(config.home.control_socket),
                                  record)
            return await work(console)
        finally:
            await discovery.close()

    with cli_recorder(options) as record:
        return run_on_database(lambda: run(record))


def hub_rows(views: list[HubView]) -> list[str]:
    lines = [f"{'HUB':<5} {'STATE':<13} {'HEARTBEAT':>9} {'ASSIGNED':>8} {'ACTIVE':>6} {'RUNNING':>7} {'PENDING':>7} "
             f"{'MEMORY':>9} {'PROCESS':<22} SPAWNER"]
    for view in views:
        hub, process = view.hub, view.process
        age = "never" if hub.heartbeat_age_s is None else f"{hub.heartbeat_age_s:.1f}s ago"
        memory = "-" if hub.memory_bytes is None else f"{hub.memory_bytes / 2**20:.0f} MB"
        running = f"{process['state']} pid {process['pid'] or '-'}" if process else "-"
        spawner = f"{hub.spawner} (isolation: {hub.isolation})" if hub.spawner else ""
        lines.append(f"{hub.id:<5} {hub.state:<13} {age:>9} {hub.assigned:>8} {hub.active:>6} {hub.running:>7} "
                     f"{hub.pending:>7} {memory:>9} {running:<22} {spawner}")
    return lines


@click.group()
def hubs() -> None:
    """The hubs, their health and their members."""


@hubs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def hubs_list(options: Options, as_json: bool) -> None:
    """List the hubs discovery knows, with their state and counts."""
    from appliance.cli_common import echo_json

    found = with_console(options, lambda console: console.hubs())
    if as_json:
        echo_json([view.to_json() for view in found])
        return
    if not found:
        click.echo("No hub has registered yet (hubs register when the appliance starts them).")
        return
    click.echo("\n".join(hub_rows(found)))


def _steer(options: Options, step: Callable[[HubsConsole, Actor], Awaitable[Hub]]) -> Hub:
    from appliance.audit import cli_actor
    from appliance.discovery.errors import NoSuchHub

    try:
        return with_console(options, lambda console: step(console, cli_actor()))
    except NoSuchHub as error:
        raise ApplianceError(str(error), hint="See the hubs with `appliance hubs list`.") from None


@hubs.command("drain")
@click.argument("hub_id")
@click.pass_obj
def hubs_drain(options: Options, hub_id: str) -> None:
    """Send no new members to HUB_ID; its members stay until it is stopped or undrained."""
    hub = _steer(options, lambda console, actor: console.drain(hub_id, actor))
    click.echo(f"hub {hub.id} is draining: no new members; {hub.assigned} member(s) stay on it.")


@hubs.command("undrain")
@click.argument("hub_id")
@click.pass_obj
def hubs_undrain(options: Options, hub_id: str) -> None:
    """Let HUB_ID take new members again."""
    hub = _steer(options, lambda console, actor: console.undrain(hub_id, actor))
    click.echo(f"hub {hub.id} takes new members again (state: {hub.state}).")


@hubs.command("restart")
@click.argument("hub_id")
@click.pass_obj
def hubs_restart(options: Options, hub_id: str) -> None:
    """Restart HUB_ID's process; its members' servers keep running and it takes them up again."""
    restart_hub(options, hub_id)
    click.echo(f"hub {hub_id} restarted; it registers again within seconds (see `appliance hubs list`).")


def restart_hub(options: Options, hub_id: str) -> None:
    """Restart a hub as the console does: discovery holds its members meanwhile; recorded in the audit log."""
    _steer(options, lambda console, actor: console.restart(hub_id, actor))
