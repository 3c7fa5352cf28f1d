"""Rendering `appliance status` for a person: one line per component, problems in red."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import click

STATE_COLORS = {"healthy": "green", "starting": "yellow", "unhealthy": "red", "crashloop": "red", "stopped": "red"}
COLUMNS = ["COMPONENT", "STATE", "PID", "UPTIME", "RESTARTS", "ADDRESS", "LAST ERROR"]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def render_status(report: dict[str, Any], color: bool = False) -> str:
    supervisor = report["supervisor"]
    rows = [
        [c["name"], c["state"], str(c["pid"] or "-"), format_duration(c["uptime_s"]), str(c["restarts"]),
         c["address"], c["last_error"] or ""]
        for c in report["components"]
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    lines = [
        f"appliance {supervisor['version']} · home {supervisor['home']} · supervisor pid {supervisor['pid']}, "
        f"up {format_duration(time.time() - supervisor['started_at'])}",
        "",
        "  ".join(name.ljust(width) for name, width in zip(COLUMNS, [*widths, 0], strict=False)).rstrip(),
    ]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, [*widths, 0], strict=False)]
        if color:
            cells[1] = click.style(cells[1], fg=STATE_COLORS.get(row[1], "red"), bold=row[1] != "healthy")
        lines.append("  ".join(cells).rstrip())
    lines += render_hubs(report.get("hubs"))
    if "members" in report:
        members = report["members"]
        note = textwrap.fill(members["note"], width=100, initial_indent="Members are ",
                             subsequent_indent="            ")
        lines += ["", click.style(note, fg="red", bold=True) if color and not members["isolated"] else note]
    unhealthy = [c["name"] for c in report["components"] if c["state"] != "healthy"]
    lines.append("")
    if unhealthy:
        lines.append(f"Not healthy: {', '.join(unhealthy)}. See `appliance logs <component>`.")
    else:
        lines.append("All components healthy.")
    return "\n".join(lines)


HUB_COLUMNS = ["HUB", "STATE", "HEARTBEAT", "ASSIGNED", "RUNNING", "PENDING", "SPAWNER", "ISOLATION", "VERSION"]


def render_hubs(hubs: list[dict[str, Any]] | str | None) -> list[str]:
    """The hubs as discovery sees them; a string is why they could not be read."""
    if hubs is None:
        return []
    if isinstance(hubs, str):
        return ["", f"Hubs: unknown ({hubs})"]
    if not hubs:
        return ["", "Hubs: none has registered yet."]
    rows = [[h["id"], h["state"], "never" if h["heartbeat_age_s"] is None else f"{h['heartbeat_age_s']:.1f}s ago",
             str(h["assigned"]), str(h["running"]), str(h["pending"]), h["spawner"], h["isolation"],
             h.get("version") or "?"] for h in hubs]
    widths = [max(len(row[i]) for row in [HUB_COLUMNS, *rows]) for i in range(len(HUB_COLUMNS))]
    return ["", *("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                  for row in [HUB_COLUMNS, *rows])]
