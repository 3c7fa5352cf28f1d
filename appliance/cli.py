"""The `appliance` command. Each command parses, calls one component API and renders the result."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import psutil

from appliance import __version__, identity
from appliance.cli_audit import audit
from appliance.cli_common import Options
from appliance.cli_envs import env
from appliance.cli_gallery import gallery
from appliance.cli_hubs import hubs
from appliance.cli_identity import clients
from appliance.cli_nodes import join, nodes
from appliance.cli_people import users
from appliance.cli_storage import storage
from appliance.config import CONFIG_FILE_NAME, Config, render_defaults, render_effective, set_values
from appliance.errors import ApplianceError
from appliance.identity import read_initial_admin
from appliance.logview import follow_logs, known_logs, print_tail, search


class CommandError(click.ClickException):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class


class ApplianceGroup(click.Group):
    """Converts ApplianceError into a one-line message and its exit code (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApplianceError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            raise CommandError(str(exc), exc.exit_code) from None


@click.group(cls=ApplianceGroup)
@click.option("--home", type=click.Path(path_type=Path), envvar="APPLIANCE_HOME",
              help="The appliance's home directory [default: /var/lib/appliance as root, "
                   "~/.local/share/appliance otherwise].")
@click.option("--config", "config_file", type=click.Path(path_type=Path), envvar="APPLIANCE_CONFIG",
              help="Configuration file [default: <home>/appliance.toml if it exists].")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="appliance")
@click.pass_context
def main(ctx: click.Context, home: Path | None, config_file: Path | None, debug: bool) -> None:
    """A notebook platform for a lab: JupyterLab for every member, notebooks in PostgreSQL."""
    ctx.obj = Options(home=home.absolute() if home else None, config_file=config_file, debug=debug)


@main.command()
@click.option("--detach", is_flag=True, help="Run in the background; return once every component is healthy.")
@click.option("--public", is_flag=True, help="Listen on every interface (0.0.0.0) instead of loopback only.")
@click.option("--background", is_flag=True, hidden=True, help="Internal: started by --detach.")
@click.pass_obj
def up(options: Options, detach: bool, public: bool, background: bool) -> None:
    """Start the appliance and supervise it until stopped (Ctrl-C or `appliance stop`)."""
    from appliance.application.run import preflight, run_foreground, start_detached
    from appliance.supervisor.logs import under_systemd

    config = options.load(**({"portal.host": "0.0.0.0", "proxy.host": "0.0.0.0"} if public else {}))
    first_start = read_initial_admin(config.home) is None
    if detach:
        click.echo(f"Starting appliance in the background (home {config.home.root}) …")
        start_detached(config, progress=click.echo)
        _print_welcome(config, first_start)
        return
    preflight(config)
    if not background and not under_systemd():  # under systemd the journal has them, with their fields
        _log_to_console()
    welcome = (lambda: None) if background else (lambda: _print_welcome(config, first_start))
    sys.exit(run_foreground(config, on_ready=welcome))


@main.command()
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the supervisor to exit.")
@click.pass_obj
def stop(options: Options, timeout: float) -> None:
    """Stop the running appliance and every process it started."""
    from appliance.supervisor.control import send_command
    from appliance.supervisor.polling import poll

    home = options.load().home
    pid = home.read_pid()
    send_command(home.control_socket, {"command": "stop"})
    if poll(lambda: home.is_locked() or (pid is not None and _alive(pid)), lambda running: not running, timeout, 0.1):
        raise ApplianceError(f"the supervisor (pid {pid}) is still stopping after {timeout:.0f} s; "
                             "see `appliance logs supervisor`.")
    click.echo("appliance stopped.")


def hubs_report(options: Options) -> list[dict[str, Any]] | str | None:
    """The hubs as discovery sees them (None when none is configured), or why they cannot be read."""
    from appliance.cli_hubs import with_registry

    if not options.load().hubs.count:
        return None
    try:
        return [hub.to_json() for hub in with_registry(options, lambda registry: registry.hubs())]
    except ApplianceError as error:
        return str(error)


@main.command()
@click.argument("component")
@click.pass_obj
def reload(options: Options, component: str) -> None:
    """Make COMPONENT read its files again without a restart: `appliance reload proxy` serves a renewed
    certificate (proxy.tls_cert) to new connections, checked first, while every open connection carries on
    (certbot's deploy hook runs it)."""
    from appliance.proxy import check_certificate_names, check_tls_files
    from appliance.proxy.tls import comes_to_serve
    from appliance.supervisor.control import send_command

    config = options.load()
    if component == "proxy" and config.proxy.tls_cert:  # a certificate the proxy cannot serve is not sent to it
        check_tls_files(config.proxy)
        check_certificate_names(config.proxy, config.addresses.certificate_hosts)
    ports = send_command(config.home.control_socket, {"command": "reload", "component": component})["ports"]
    if component != "proxy" or not config.proxy.tls_cert:
        click.echo(f"{component} reloaded.")
        return
    host, port = ports[0]
    if not comes_to_serve(config.proxy.tls_cert, host, port, config.addresses.certificate_hosts[0], 5.0):
        raise ApplianceError(f"the proxy on port {port} does not serve {config.proxy.tls_cert} 5 s after the reload.",
                             hint="See why in `appliance logs proxy`; `appliance restart proxy` starts it on the file.")
    click.echo(f"the proxy serves {config.proxy.tls_cert} now; its open connections carried on.")


@main.command()
@click.argument("component", required=False)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for it to be healthy again.")
@click.pass_obj
def restart(options: Options, component: str | None, timeout: float) -> None:
    """Restart one COMPONENT (postgres, portal, proxy), or all of them in order."""
    from appliance.supervisor.control import send_command
    from appliance.supervisor.polling import poll

    home = options.load().home
    restarted = send_command(home.control_socket, {"command": "restart", "component": component})["restarted"]

    def all_healthy(components: list[dict[str, Any]]) -> bool:
        return all(c["state"] == "healthy" for c in components if c["name"] in restarted)

    if not all_healthy(poll(lambda: send_command(home.control_socket, {"command": "status"})["components"],
                            all_healthy, timeout)):
        raise ApplianceError(f"{', '.join(restarted)} not healthy {timeout:.0f} s after the restart; "
                             "see `appliance status`.")
    click.echo(f"restarted {', '.join(restarted)}; healthy.")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--wait", "wait_s", type=float, default=0.0, show_default=True,
              help="Seconds to wait for the appliance to be running with every component healthy.")
@click.option("--welcome", is_flag=True, help="Also print the URLs and, while it is still stored, the first "
                                              "admin's login (what the installer shows at the end).")
@click.pass_obj
def status(options: Options, as_json: bool, wait_s: float, welcome: bool) -> None:
    """Show every component's health. Exit 0 if all are healthy, 1 if not, 3 if not running."""
    from appliance.errors import NotRunning
    from appliance.statusview import render_status
    from appliance.supervisor.control import send_command
    from appliance.supervisor.polling import poll

    config = options.load()

    def report_if_running() -> dict[str, Any] | None:
        try:
            return send_command(config.home.control_socket, {"command": "status"}, timeout_s=10)
        except NotRunning:
            return None

    def all_healthy(report: dict[str, Any] | None) -> bool:
        return report is not None and all(c["state"] == "healthy" for c in report["components"])

    report = poll(report_if_running, all_healthy, wait_s, 0.5)
    healthy = all_healthy(report)
    if report is None:
        if as_json:
            click.echo(json.dumps({"running": False, "components": []}))
        else:
            click.echo(f"appliance is not running (home {config.home.root}). Start it with `appliance up`.")
        sys.exit(3)
    report.pop("ok", None)
    report["hubs"] = hubs_report(options)
    report["members"] = config.addresses.members_report()
    if welcome and healthy and not as_json:
        _print_welcome(config, first_start=True)
    click.echo(json.dumps(report, indent=2) if as_json else render_status(report, color=sys.stdout.isatty()))
    sys.exit(0 if healthy else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def doctor(options: Options, as_json: bool) -> None:
    """Check what breaks a lab in its second month and say what to do about each problem: host names, the
    certificate, disk and databases, the last backup, clocks, versions, members' servers without a hub,
    components that crash. Exits 1 when it found a problem."""
    import asyncio

    from appliance.doctor import OK, examine, render

    findings = asyncio.run(examine(options.load()))
    if as_json:
        click.echo(json.dumps([finding.to_json() for finding in findings], indent=2))
    else:
        click.echo(render(findings, color=sys.stdout.isatty()))
    sys.exit(0 if all(finding.status == OK for finding in findings) else 1)


@main.command()
@click.argument("component", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as they are written.")
@click.option("-n", "--lines", default=40, show_default=True, help="How many past lines to show (the last).")
@click.option("--since", help="Only lines written since then: an age (30m, 12h, 7d) or a date/time (2026-12-03 "
                              "09:00, UTC unless it says otherwise).")
@click.option("--grep", "pattern", metavar="REGEX", help="Only lines that match (case-insensitive).")
@click.pass_obj
def logs(options: Options, component: str | None, follow: bool, lines: int, since: str | None,
         pattern: str | None) -> None:
    """Show the log of one COMPONENT (postgres, migrate, portal, proxy, hub-N, renderer, supervisor, or
    member:NAME for a member's server under the local spawner), or of all. With --since or --grep, search them:
    the journal when systemd runs the appliance, every rotated file otherwise."""
    from datetime import datetime, timezone

    from appliance.audit.errors import BadFilter
    from appliance.audit.filters import parse_time

    home = options.load().home
    names = known_logs(home)
    if component is not None and component not in names:
        raise ApplianceError(f"no log for {component!r} in {home.logs_dir}; logs: {', '.join(names) or 'none'}.")
    selected = [component] if component else names
    if since or pattern:
        try:
            moment = parse_time(since, datetime.now(timezone.utc)) if since else None
        except BadFilter as error:
            raise ApplianceError(f"--{error.message}") from None
        found = search(home, selected, moment, pattern, lines)
        click.echo("\n".join(found) if found else "No line matches.")
        return
    print_tail(home, selected, lines)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            follow_logs(home, selected)


@main.group()
def config() -> None:
    """Inspect and change the configuration."""


@config.command("show")
@click.option("--defaults", is_flag=True, help="Print every knob at its default as a commented TOML file.")
@click.pass_obj
def config_show(options: Options, defaults: bool) -> None:
    """Print the effective configuration with the source of each value (secrets masked)."""
    click.echo(render_defaults() if defaults else render_effective(options.load()), nl=False)


@config.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="SECTION.KEY=VALUE...")
@click.pass_obj
def config_set(options: Options, assignments: tuple[str, ...]) -> None:
    """Set keys in the configuration file (--config, else <home>/appliance.toml), keeping its comments.
    Keys that go together are set in one call, e.g. proxy.tls_cert=… proxy.tls_key=…. They take effect
    when the appliance restarts."""
    pairs = dict(assignment.split("=", 1) for assignment in assignments if "=" in assignment)
    if len(pairs) != len(assignments):
        raise click.UsageError("give each as SECTION.KEY=VALUE, e.g. portal.public_url=https://lab.example.org")
    if options.config_file is not None:
        file = options.config_file
    else:
        current = options.load()
        file = current.file or current.home.root / CONFIG_FILE_NAME
    set_values(file, pairs)
    click.echo(f"{file}: set {', '.join(pairs)}; restart the appliance for it to take effect.")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup(options: Options, file: Path) -> None:
    """Write every database, the secrets and the configuration to FILE, a new file (mode 0600: it holds
    the keys to the notebooks; keep it like the disks themselves). The appliance keeps running."""
    from appliance.backup import backup as make_backup

    databases = make_backup(options.load(), file, click.echo)
    click.echo(f"Backed up {len(databases)} database(s) to {file}.")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def restore(options: Options, file: Path) -> None:
    """Replace this appliance's databases and secrets with the backup in FILE (e.g. onto a fresh install).
    Stop the appliance first; start it again afterwards."""
    from appliance.backup import restore as put_back

    databases = put_back(options.load(), file, click.echo)
    click.echo(f"Restored {len(databases)} database(s) from {file}. Start the appliance: "
               "`systemctl start appliance` (or `appliance up --detach`).")


@main.command()
def version() -> None:
    """Print the version of appliance."""
    click.echo(f"appliance {__version__}")


@main.command()
@click.option("--check", is_flag=True, help="Only say what would change: versions, migrations, the plan.")
@click.option("--with-downtime", is_flag=True, help="Allow a migration the running release cannot run beside: "
                                                     "everything restarts at once.")
@click.pass_obj
def upgrade(options: Options, check: bool, with_downtime: bool) -> None:
    """Bring the running appliance onto the version installed beside it, one component at a time (the installer
    runs this after installing a new version): migrate, then the portal, the renderer and each hub in turn,
    while members' JupyterLabs keep answering. With --check, say what would change. Exits 2 from --check when
    the upgrade needs --with-downtime."""
    from appliance.application.upgrade import plan_upgrade, rolling_upgrade
    from appliance.cli_hubs import restart_hub

    config = options.load()
    plan = plan_upgrade(config)
    click.echo(plan.render())
    if check:
        sys.exit(2 if plan.needs_downtime and not with_downtime else 0)
    began = time.monotonic()
    rolling_upgrade(config, plan, with_downtime, lambda line: click.echo(f"  {line}"),
                    lambda hub_id: restart_hub(options, hub_id))
    click.echo(f"Upgraded to {plan.installed} in {time.monotonic() - began:.1f} s.")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(options: Options) -> None:
    """Create the databases if needed and migrate the schema to this version (a no-op when current). On an
    external PostgreSQL, first check that its server and role can hold the appliance."""
    from appliance import db as database
    from appliance.audit import Audit
    from appliance.hub.addresses import database_name
    from appliance.postgres import database_url, prepare_databases

    config = options.load()
    url = database_url(config.home, config.postgres)
    for name in prepare_databases(config.home, config.postgres, [database_name(i) for i in config.addresses.hub_ids]):
        click.echo(f"created database {name}")
    before, after = database.upgrade(url)
    engine = database.make_engine(url, pool_size=1)
    log = Audit(engine, config.audit)
    try:
        database.record_installation(engine, __version__)
        created = identity.bootstrap(engine, config.home, log.record)
    finally:
        log.recorder.close()
        engine.dispose()
    if created:
        click.echo(created)
    click.echo(f"schema at revision {after}" + (" (unchanged)" if before == after else f" (was {before or 'empty'})"))


main.add_command(users)
main.add_command(clients)
main.add_command(storage)
main.add_command(hubs)
main.add_command(gallery)
main.add_command(audit)
main.add_command(nodes)
main.add_command(join)
main.add_command(env)




def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _log_to_console() -> None:
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger("appliance").addHandler(handler)


def _print_welcome(config: Config, first_start: bool) -> None:
    """The URLs, and on the start that created it, the first admin's login (never written to a log)."""

    click.echo("")
    click.echo("Appliance is up.")
    click.echo(f"  Portal:      {config.addresses.portal_origin}/")
    click.echo(f"  Hub origin:  {config.addresses.hub_origin}/")
    click.echo(click.wrap_text("Members are " + str(config.addresses.members_report()["note"]), width=100,
                               initial_indent="  Members:     ", subsequent_indent=" " * 15))
    admin = read_initial_admin(config.home)
    if admin and first_start:
        click.echo(f"  Admin login: {admin[0]} / {admin[1]}")
        click.echo(f"               (kept in {config.home.secrets_dir}/initial-admin-password until you change it)")
    click.echo("  Status:      appliance status")
