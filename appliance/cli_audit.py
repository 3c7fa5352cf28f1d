"""`appliance audit`: the audit log on the command line (thin over appliance.audit). The recorder every
other command records its changes with is ``cli_common.cli_recorder``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

from appliance.cli_common import audit_log

if TYPE_CHECKING:
    from appliance.audit import Event
    from appliance.cli_common import Options

DETAIL_WIDTH = 60


def event_line(event: Event) -> str:
    detail = json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True) if event.detail else ""
    if len(detail) > DETAIL_WIDTH:
        detail = detail[:DETAIL_WIDTH - 1] + "…"
    return (f"{event.at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} {event.actor[:24]:<24} {event.action:<24} "
            f"{event.target[:24]:<24} {event.address[:15]:<15} {detail}")


@click.command()
@click.option("--since", help="Only events since then: an age (30m, 12h, 7d, 2w) or a date/time (2026-11-30).")
@click.option("--until", help="Only events before then (same forms as --since).")
@click.option("--actor", help="Only what this account (or cli:<user>, system) did.")
@click.option("--action", help="Only this action and its kinds: 'sign-in' finds sign-in.failed too.")
@click.option("--target", help="Only events about this (an account, a publication, a client).")
@click.option("--search", "-q", "text", help="Only events with this text anywhere (case-insensitive).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Newest events shown (not with --csv, which prints every match).")
@click.option("--csv", "as_csv", is_flag=True, help="Print every matching event as CSV (for a spreadsheet).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def audit(options: Options, since: str | None, until: str | None, actor: str | None, action: str | None,
          target: str | None, text: str | None, limit: int, as_csv: bool, as_json: bool) -> None:
    """Show the audit log, newest first: admin actions and security events (sign-ins, failures, lock-outs,
    refused tokens, password, client and key changes) with who, what, when and from where."""
    from appliance.audit import parse_filters
    from appliance.audit.export import csv_lines

    filters = parse_filters({"since": since, "until": until, "actor": actor, "action": action, "target": target,
                             "q": text}, datetime.now(timezone.utc))
    with audit_log(options) as log:
        if as_csv:
            for line in csv_lines(log.store.stream(filters)):
                sys.stdout.write(line)
            return
        found = log.store.page(filters, limit).events
    if as_json:
        click.echo(json.dumps([event.to_json() for event in found], indent=2))
    elif not found:
        click.echo("No events match." if filters.to_query() else "The audit log is empty.")
    else:
        click.echo(f"{'AT (UTC)':<19} {'ACTOR':<24} {'ACTION':<24} {'TARGET':<24} {'FROM':<15} DETAIL")
        for event in found:
            click.echo(event_line(event))
