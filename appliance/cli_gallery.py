"""`appliance gallery …`: moderating the lab's published notebooks (thin over gallery/moderation.py); every
change is recorded in the audit log as done by ``cli:<system user>``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from appliance.audit import cli_actor

if TYPE_CHECKING:
    from appliance.cli_common import Options
    from appliance.gallery.moderation import Moderation, PublicationSummary, Report

T = TypeVar("T")
DATABASE_WAIT_S = 5.0  # a command gives up on an unreachable database after this long


def with_moderation(options: Options, work: Callable[[Moderation], Awaitable[T]]) -> T:
    """Run ``work`` on the gallery's moderation, with an unreachable database turned into what to do."""
    from appliance.cli_common import cli_recorder, run_on_database
    from appliance.gallery.moderation import Moderation
    from appliance.gallery.transactions import gallery_pool
    from appliance.postgres import database_url

    config = options.load()
    with cli_recorder(options) as record:
        async def run() -> T:  # moderation alone: publishing's notebook checks (nbformat) cost ~1 s to import
            pool = gallery_pool(database_url(config.home, config.postgres), 1)
            try:
                await pool.open(wait=True, timeout=DATABASE_WAIT_S)
                return await work(Moderation(pool, record))
            finally:
                await pool.close()

        return run_on_database(run)


def publication_rows(found: list[PublicationSummary]) -> list[str]:
    lines = [f"{'SLUG':<17} {'STATE':<11} {'VER':>3} {'VIEWS':>6} {'CLONES':>6} {'REPORTS':>7} {'AUTHOR':<16} "
             f"{'VISIBILITY':<16} TITLE"]
    for item in found:
        title = ("★ " if item.featured_at else "") + item.title[:60]
        lines.append(f"{item.slug:<17} {item.state:<11} {item.version:>3} {item.views:>6} {item.clones:>6} "
                     f"{item.open_reports:>7} {item.author:<16} {item.visibility:<16} {title}")
    return lines


def report_rows(found: list[Report]) -> list[str]:
    lines = [f"{'ID':>6} {'WHEN (UTC)':<16} {'SLUG':<17} {'REPORTER':<16} {'REASON':<13} STATE / DETAIL"]
    for item in found:
        state = f"{item.resolution} by {item.resolved_by}" if item.resolved_at else "open"
        detail = " ".join(item.detail.split())[:60]
        lines.append(f"{item.id:>6} {item.created_at:%Y-%m-%d %H:%M} {item.slug:<17} {item.reporter:<16} "
                     f"{item.reason:<13} {state}" + (f": {detail}" if detail else ""))
    return lines


@click.group()
def gallery() -> None:
    """The lab's published notebooks: list, inspect, hide, feature, delete, render again; members' reports."""


@gallery.command("list")
@click.option("--author", help="Only this member's publications.")
@click.option("--state", type=click.Choice(["all", "published", "hidden", "featured", "reported", "unpublished"]),
              default="all", show_default=True, help="Which ones (all: published and hidden).")
@click.option("--all", "include_unpublished", is_flag=True, help="Include publications their authors unpublished.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def gallery_list(options: Options, author: str | None, state: str, include_unpublished: bool, as_json: bool) -> None:
    """List publications (hidden ones too), newest change first."""
    from appliance.cli_common import echo_json

    wanted = "any" if include_unpublished and state == "all" else state
    found = with_moderation(options, lambda moderation: moderation.page(state=wanted, author=author,
                                                                        limit=None)).publications
    if as_json:
        echo_json([item.to_json() for item in found])
    elif not found:
        click.echo("No publications yet (members publish from JupyterLab: File → Publish to gallery…).")
    else:
        click.echo("\n".join(publication_rows(found)))


@gallery.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def gallery_show(options: Options, slug: str, as_json: bool) -> None:
    """Show SLUG's publication and its versions with the state of their renders."""
    from appliance.cli_common import echo_json

    found, versions = with_moderation(options, lambda moderation: moderation.show(slug))
    if as_json:
        echo_json({**found.to_json(), "versions": [version.to_json() for version in versions]})
        return
    click.echo(f"{found.title}\n  slug {found.slug} by {found.author}, {found.visibility}, {found.state}"
               + (f" ({found.hidden_reason})" if found.hidden_reason else "")
               + f"\n  from {found.path}; {found.views} view(s), {found.clones} clone(s)")
    for version in versions:
        render = version.render_state or "not queued"
        stripped = ", outputs stripped" if version.outputs_stripped else ""
        click.echo(f"  v{version.number}: {version.size} bytes{stripped}, {version.created_at:%Y-%m-%d %H:%M}, "
                   f"render {render}"
                   + (f": {version.render_error}" if version.render_error else ""))


@gallery.command("hide")
@click.argument("slug")
@click.option("--reason", default="", help="Why (kept with the publication; its author sees it).")
@click.pass_obj
def gallery_hide(options: Options, slug: str, reason: str) -> None:
    """Hide SLUG from everyone but its author and admins (undo with `unhide`)."""
    with_moderation(options, lambda moderation: moderation.hide(slug, reason, by=cli_actor()))
    click.echo(f"hid {slug}: only its author and admins see it now.")


@gallery.command("unhide")
@click.argument("slug")
@click.pass_obj
def gallery_unhide(options: Options, slug: str) -> None:
    """Show SLUG in the gallery again."""
    with_moderation(options, lambda moderation: moderation.unhide(slug, by=cli_actor()))
    click.echo(f"{slug} is visible again to whom its author chose.")


@gallery.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def gallery_delete(options: Options, slug: str, yes: bool) -> None:
    """Delete SLUG with its versions, renders and thread, for good (members' clones stay theirs)."""
    if not yes:
        click.confirm(f"Delete {slug} and all its versions for good?", abort=True)
    with_moderation(options, lambda moderation: moderation.delete(slug, by=cli_actor()))
    click.echo(f"deleted {slug}.")


@gallery.command("rerender")
@click.argument("slug")
@click.option("--version", "version", type=click.IntRange(min=1), help="Which version [default: the current one].")
@click.pass_obj
def gallery_rerender(options: Options, slug: str, version: int | None) -> None:
    """Queue SLUG's version to be rendered again (after a failure, or a new renderer)."""
    number, job = with_moderation(options, lambda moderation: moderation.rerender(slug, version, by=cli_actor()))
    click.echo(f"queued version {number} of {slug} for rendering (job {job}).")


@gallery.command("feature")
@click.argument("slug")
@click.pass_obj
def gallery_feature(options: Options, slug: str) -> None:
    """Pin SLUG at the top of the gallery (at most 12 at once)."""
    with_moderation(options, lambda moderation: moderation.feature(slug, by=cli_actor()))
    click.echo(f"featured {slug}: it is pinned at the top of /gallery for those who may see it.")


@gallery.command("unfeature")
@click.argument("slug")
@click.pass_obj
def gallery_unfeature(options: Options, slug: str) -> None:
    """Unpin SLUG from the top of the gallery."""
    with_moderation(options, lambda moderation: moderation.unfeature(slug, by=cli_actor()))
    click.echo(f"{slug} is no longer featured.")


@gallery.command("reports")
@click.option("--all", "everything", is_flag=True, help="Include resolved reports.")
@click.option("--slug", help="Only this publication's reports.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def gallery_reports(options: Options, everything: bool, slug: str | None, as_json: bool) -> None:
    """What members reported, newest first (open ones unless --all)."""
    from appliance.cli_common import echo_json

    found = with_moderation(options, lambda moderation: moderation.reports(open_only=not everything, slug=slug))
    if as_json:
        echo_json([item.to_json() for item in found])
    elif not found:
        click.echo("No reports." if everything else "No open reports.")
    else:
        click.echo("\n".join(report_rows(found)))


@gallery.command("dismiss")
@click.argument("report_id", type=click.IntRange(min=1))
@click.pass_obj
def gallery_dismiss(options: Options, report_id: int) -> None:
    """Close report REPORT_ID without acting on its publication (`hide` resolves a publication's reports)."""
    found = with_moderation(options, lambda moderation: moderation.dismiss(report_id, by=cli_actor()))
    click.echo(f"dismissed report {report_id} on {found.slug}.")
