"""The reference docs are generated from the code and must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import all_knobs
from appliance.docgen import DOCS

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_generated_reference_is_current(name: str) -> None:
    current = (DOCS_DIR / name).read_text()
    assert current == DOCS[name](), f"docs/{name} is out of date: run `python -m appliance.docgen`"


def test_every_command_and_knob_is_documented() -> None:
    cli = (DOCS_DIR / "cli.md").read_text()
    for command in ["up", "status", "stop", "restart", "logs", "config show", "version", "db upgrade"]:
        assert f"## `appliance {command}`" in cli
    configuration = (DOCS_DIR / "configuration.md").read_text()
    for info in all_knobs():
        assert f"| `{info.name}` |" in configuration and info.env_var in configuration


def test_the_grafana_dashboard_shows_every_documented_metric_and_no_other() -> None:
    import json
    import re

    from tests.metrics_docs import DOCUMENTED

    documented = set(DOCUMENTED)
    dashboard = json.loads((DOCS_DIR / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    shown = {re.sub(r"_(bucket|count|sum)$", "", name)
             for expression in expressions for name in re.findall(r"\bappliance_[a-z_]+", expression)}
    assert shown == documented
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
