"""`appliance doctor`'s findings as a person reads them."""

from __future__ import annotations

import click

from appliance.doctor.checks import FAIL, OK, WARN, Finding

MARKS = {OK: ("ok", "green"), WARN: ("warn", "yellow"), FAIL: ("FAIL", "red")}


def render(findings: list[Finding], color: bool = False) -> str:
    """One line per finding, its fix indented below, and a closing count."""
    lines = []
    for finding in findings:
        word, colour = MARKS[finding.status]
        mark = click.style(f"{word:>4}", fg=colour, bold=finding.status != OK) if color else f"{word:>4}"
        lines.append(f"{mark}  {finding.check:<12} {finding.message}")
        if finding.fix:
            lines.append(f"{'':18}→ {finding.fix}")
    problems = sum(1 for finding in findings if finding.status != OK)
    lines.append("")
    lines.append(f"{problems} problem{'s' if problems != 1 else ''} found." if problems else "No problem found.")
    return "\n".join(lines)
