"""docs/performance.md and its plots, drawn from the benches' own output (nothing typed in by hand).

Reads what the benches wrote with --out into docs/performance/data/ (each file is optional; a missing one leaves
its section out):
    load.json      bench/load.py --out            the ramp, both sides: latency and memory against active members
    idle.json      bench/idle.py --out            idle CPU by part, both sides
    failover.json  bench/failover.py --out        a member's hub killed or frozen, to a working JupyterLab
    seed_scale.json  bench/seed_scale.py --out    latencies empty and at the seed's scale, the database's size
    faults.jsonl   APPLIANCE_FAULT_REPORT=… [APPLIANCE_FAULT_MEMBERS=20] pytest tests/faults   each fault's
                                                  error window
and writes docs/performance.md with PNGs beside it in docs/performance/.
Usage: .venv/bin/python bench/report.py   (needs matplotlib: pip install -e '.[bench]')
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
OUT = DOCS / "performance"
DATA = OUT / "data"
COLOURS = {"appliance": "#2563eb", "plain": "#9ca3af"}
LABELS = {"appliance": "appliance (2 hubs)", "plain": "plain JupyterHub"}


def read(name: str) -> Any:
    path = DATA / name
    if not path.exists():
        return None
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def figure(name: str, draw: Any, size: tuple[float, float] = (7, 3.6)) -> str:
    fig, ax = plt.subplots(figsize=size, dpi=110)
    draw(ax)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(OUT / name)
    plt.close(fig)
    return f"![{name}](performance/{name})"


def members_per_gb(samples: list[dict[str, Any]]) -> float | None:
    """Active members per GB of the box's used memory: the slope of a least-squares line through the samples."""
    points = [(s["active"], s["used_bytes"] / 1e9) for s in samples]
    if len({a for a, _ in points}) < 2:
        return None
    mean_a, mean_u = statistics.fmean(a for a, _ in points), statistics.fmean(u for _, u in points)
    slope = (sum((a - mean_a) * (u - mean_u) for a, u in points) /
             sum((a - mean_a) ** 2 for a, _ in points))  # GB per member
    return 1 / slope if slope > 0 else None


def load_section(load: dict[str, Any]) -> list[str]:
    runs = load["runs"]
    settings = load["settings"]

    def latency(ax: Any) -> None:
        for label, run in runs.items():
            stages = [s for s in run["stages"] if not math.isnan(s["p95_s"])]
            ax.plot([s["active"] for s in stages], [s["p95_s"] for s in stages], "o-", color=COLOURS[label],
                    label=f"{LABELS[label]}, p95")
            ax.plot([s["active"] for s in stages], [s["p50_s"] for s in stages], "--", color=COLOURS[label],
                    label=f"{LABELS[label]}, p50")
        ax.axhline(30, color="#dc2626", lw=0.8, ls=":", label="ceiling: p95 30 s")
        ax.set_xlabel("active members")
        ax.set_ylabel("sign-in → kernel ready (s)")
        ax.legend(fontsize=8)

    def memory(ax: Any) -> None:
        for label, run in runs.items():
            ax.plot([s["active"] for s in run["samples"]], [s["used_bytes"] / 1e9 for s in run["samples"]], ".",
                    ms=2, color=COLOURS[label], label=LABELS[label])
        ax.set_xlabel("active members")
        ax.set_ylabel("box memory used (GB)")
        ax.legend(fontsize=8)

    lines = ["## Many members at once (bench/load.py)", "",
             f"A ramp of simulated members ({settings['step']} more a stage, arriving over {settings['spread']:g} s; "
             f"each signs in, opens Research, goes through the OAuth dance, spawns, starts a kernel and runs code, "
             f"then runs code and saves a notebook every {settings['think']:g} s) on a {load['cpus']}-core, "
             f"{load['memory_gb']:.0f} GB box, the appliance and then a plain JupyterHub (same spawner, its own "
             "proxy) in the same run. The ceiling is where p95 sign-in → kernel ready passes 30 s, an error "
             f"appears, or less than {settings['memory_floor']:g} GB stays available.", "",
             figure("latency.png", latency), "", figure("memory.png", memory), "",
             "| | ceiling | members per GB (active) |", "|---|---|---|"]
    for label, run in runs.items():
        per_gb = members_per_gb(run["samples"])
        lines.append(f"| {LABELS[label]} | {load['ceilings'][label]} | "
                     f"{f'{per_gb:.1f}' if per_gb else 'n/a'} |")
    lines += ["", "| active | appliance p50 / p95 / p99 (s) | plain p50 / p95 / p99 (s) | errors |",
              "|---|---|---|---|"]
    plain = {s["active"]: s for s in runs.get("plain", {}).get("stages", [])}
    for stage in runs["appliance"]["stages"]:
        theirs = plain.get(stage["active"])
        ours_text = f"{stage['p50_s']:.1f} / {stage['p95_s']:.1f} / {stage['p99_s']:.1f}"
        theirs_text = f"{theirs['p50_s']:.1f} / {theirs['p95_s']:.1f} / {theirs['p99_s']:.1f}" if theirs else "–"
        errors = len(stage["errors"]) + (len(theirs["errors"]) if theirs else 0)
        lines.append(f"| {stage['active']} | {ours_text} | {theirs_text} | {errors} |")
    if "false_alarms" in load:
        signs = ", ".join(f"{name} {count}" for name, count in load["false_alarms"].items())
        lines += ["", f"Signs of a false fail-over in the appliance's logs after its ramp: {signs}."]
    return lines + [""]


def idle_section(idle: dict[str, Any]) -> list[str]:
    ours, theirs = sum(idle["appliance"].values()), sum(idle["plain"].values())

    def bars(ax: Any) -> None:
        parts = sorted(idle["appliance"].items(), key=lambda item: -item[1])
        bottom = 0.0
        for name, value in parts:
            if value >= 0.005:
                ax.bar(0, value, bottom=bottom, color=COLOURS["appliance"], edgecolor="white")
                ax.text(0, bottom + value / 2, f"{name} {value:.2f}", ha="center", va="center", fontsize=7,
                        color="white")
                bottom += value
        ax.bar(1, theirs, color=COLOURS["plain"])
        ax.set_xticks([0, 1], [f"appliance ({idle['hubs']} hubs)", "plain JupyterHub"])
        ax.set_ylabel("CPU seconds a minute, idle")

    return ["## What an idle appliance costs (bench/idle.py)", "",
            f"Every process of each side, idle side by side for {idle['window_s']:.0f} s: the appliance "
            f"{ours:.2f} s of CPU a minute, plain JupyterHub with its proxy {theirs:.2f} s ({ours / theirs:.2f}×).",
            "", figure("idle.png", bars, (5, 4)), ""]


def failover_section(failover: dict[str, Any]) -> list[str]:
    lines = ["## A hub that fails (bench/failover.py)", "",
             "From the member's hub failing to a new sign-in reaching a working JupyterLab (median), and how long "
             "the JupyterLab the member had open could not reach its server.", "",
             "| case | to a working JupyterLab (s) | open JupyterLab's outage (s) |", "|---|---|---|"]
    for label, runs in failover.items():
        outage = max(runs["open_lab_outage_s"])
        moved = "stays down" in label or "frozen" in label
        lines.append(f"| {label} | {statistics.median(runs['answered_s']):.2f} | "
                     f"{'left behind (moved)' if moved else f'{outage:.2f}'} |")
    return lines + [""]


def seed_section(seed: dict[str, Any]) -> list[str]:
    rows = seed["rows"]
    lines = ["## At the seed's scale (bench/seed_scale.py)", "",
             f"The same appliance empty, then holding {rows['identity.accounts']:,} accounts, "
             f"{rows['storage.files']:,} notebooks and {rows['storage.checkpoints']:,} checkpoints (and 65,000 "
             f"members placed on 10 hubs, 10,000 gallery publications): the database is "
             f"{seed['database_bytes'] / 1e9:.1f} GB. Before the seeded measurements, a checkpoint writes the bulk "
             "load out and the placements are read into memory, as on a working day (see `settle` in the bench). "
             "Sequential requests, in milliseconds.", "",
             "| operation | empty p50 / p99 | seeded p50 / p99 | ratio p50 / p99 |", "|---|---|---|---|"]
    for operation, f in seed["operations"].items():
        lines.append(f"| {operation} | {f['empty_p50_ms']:.1f} / {f['empty_p99_ms']:.1f} | "
                     f"{f['seeded_p50_ms']:.1f} / {f['seeded_p99_ms']:.1f} | "
                     f"{f['seeded_p50_ms'] / f['empty_p50_ms']:.2f} / {f['seeded_p99_ms'] / f['empty_p99_ms']:.2f} |")
    return lines + [""]


def faults_section(faults: list[dict[str, Any]]) -> list[str]:
    def bars(ax: Any) -> None:
        ax.barh([f["fault"][:60] for f in faults], [f["window_s"] for f in faults], color=COLOURS["appliance"])
        ax.invert_yaxis()
        ax.set_xlabel("seconds in which members' saves failed")
        ax.tick_params(axis="y", labelsize=7)

    lines = ["## Faults while members save (tests/faults)", "",
             "Each fault done to a running appliance while members save a notebook every 50 ms each through their "
             "hub-spawned JupyterLabs (one in the README's test command; APPLIANCE_FAULT_MEMBERS sets more). "
             "Afterwards every notebook a member was told was saved is read back from the storage: the tests fail "
             "if one is lost or corrupted.", "",
             figure("faults.png", bars, (8, 0.45 * len(faults) + 1)), "",
             "| fault | members saving | saves failed | error window (s) | what the members saw |",
             "|---|---|---|---|---|"]
    for fault in faults:
        seen = "; ".join(sorted({f"{status} {message.splitlines()[0][:60]}" for status, message in fault["answers"]}))
        lines.append(f"| {fault['fault']} | {fault.get('members', 1)} | {fault['failed']} of {fault['saves']} | "
                     f"{fault['window_s']:.2f} | {seen or '–'} |")
    return lines + [""]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Performance", "",
             f"Generated by `bench/report.py` on {date.today().isoformat()} from the benches' own output in "
             "`docs/performance/data/` (see that script for the commands). Each figure was measured on one 2-core "
             "box, with plain JupyterHub measured in the same run as the baseline.", ""]
    sections = (("load.json", load_section), ("seed_scale.json", seed_section), ("idle.json", idle_section),
                ("failover.json", failover_section), ("faults.jsonl", faults_section))
    for name, section in sections:
        data = read(name)
        if data:
            lines += section(data)
    (DOCS / "performance.md").write_text("\n".join(lines))
    print(f"wrote {DOCS / 'performance.md'}")


if __name__ == "__main__":
    main()
