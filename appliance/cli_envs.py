"""`appliance env`: the members' shared Python environments on the command line (thin over appliance.envs).
Each change is recorded in the audit log when the appliance's database answers; it is made either way."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from appliance.cli_common import echo_json

if TYPE_CHECKING:
    from appliance.cli_common import Options
    from appliance.envs import Environment, Environments

ENV_OPTION = click.option("--env", "name", default="default", show_default=True, metavar="NAME",
                          help="The environment (default is every member's python3 kernel).")


def environments(options: Options) -> Environments:
    from appliance.envs import Environments

    return Environments(options.load().home.envs_dir)


def say(line: str) -> None:
    click.echo(f"  {line}")


def audited(options: Options, action: str, target: str, detail: dict[str, object]) -> None:
    """Record the change, or say that it could not be recorded (the appliance stopped)."""
    from appliance.audit import cli_actor
    from appliance.cli_common import cli_recorder
    from appliance.errors import ApplianceError

    try:
        with cli_recorder(options) as record:
            record(cli_actor(), action, target, detail)
    except ApplianceError as error:
        click.echo(f"(not recorded in the audit log: {error.message})", err=True)


def print_environment(environment: Environment) -> None:
    click.echo(f"{environment.name}: kernel {environment.kernel!r} ({environment.display_name}), "
               f"Python {environment.python}, {len(environment.packages)} packages")


@click.group("env")
def env() -> None:
    """The members' shared Python environments: each is a kernel in every member's JupyterLab, read-only to
    them. `default` is the python3 kernel; a change reaches new kernels without restarting anyone's server."""


@env.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def env_list(options: Options, name: str | None, as_json: bool) -> None:
    """The environments, or with NAME its packages."""
    envs = environments(options)
    described = [envs.describe(n) for n in ([name] if name else envs.names())]
    if as_json:
        echo_json([environment.to_json() for environment in described])
        return
    if not described:
        click.echo("No shared environment yet: members' kernels run the appliance's own Python. "
                   "Make one with `appliance env add PACKAGE…`.")
    for environment in described:
        print_environment(environment)
        if name:
            for package, version in sorted(environment.packages.items(), key=lambda item: item[0].lower()):
                click.echo(f"  {package} {version}")


@env.command("add")
@ENV_OPTION
@click.argument("packages", nargs=-1, required=True, metavar="PACKAGE...")
@click.pass_obj
def env_add(options: Options, name: str, packages: tuple[str, ...]) -> None:
    """Install PACKAGE… (pip requirements: pandas, numpy>=2) into the environment; the default one is made first
    if there is none. If it fails, the environment is left as it was."""
    click.echo(f"Installing {', '.join(packages)} into {name}:")
    environment = environments(options).add(name, list(packages), say)
    audited(options, "env.packages-added", name, {"packages": list(packages)})
    print_environment(environment)


@env.command("remove")
@ENV_OPTION
@click.argument("packages", nargs=-1, required=True, metavar="PACKAGE...")
@click.pass_obj
def env_remove(options: Options, name: str, packages: tuple[str, ...]) -> None:
    """Uninstall PACKAGE… from the environment (what they needed stays)."""
    click.echo(f"Removing {', '.join(packages)} from {name}:")
    environment = environments(options).remove(name, list(packages), say)
    audited(options, "env.packages-removed", name, {"packages": list(packages)})
    print_environment(environment)


@env.command("create")
@click.argument("name")
@click.option("--python", "python", metavar="PATH", help="The interpreter to make it with (e.g. /usr/bin/python3.12); "
                                                          "default: the one the appliance runs on.")
@click.pass_obj
def env_create(options: Options, name: str, python: str | None) -> None:
    """A new environment NAME with ipykernel: a kernel of that name for every member."""
    click.echo(f"Making the environment {name}:")
    environment = environments(options).create(name, say, python)
    audited(options, "env.created", name, {"python": environment.python})
    print_environment(environment)


@env.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Members' notebooks using its kernel will need another; delete it?")
@click.pass_obj
def env_delete(options: Options, name: str) -> None:
    """Delete the environment NAME and its kernel."""
    environments(options).delete(name, say)
    audited(options, "env.deleted", name, {})
