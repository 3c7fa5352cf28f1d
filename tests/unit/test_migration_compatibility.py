"""Every migration says whether the previous release runs on the schema after it: `appliance upgrade` upgrades
the hubs one at a time only when all pending ones do."""

from __future__ import annotations

import ast
from pathlib import Path

from appliance.db import pending_migrations

VERSIONS = Path(__file__).parents[2] / "appliance" / "db" / "migrations" / "versions"


def test_each_migration_declares_it_and_those_that_drop_what_the_last_release_reads_say_no() -> None:
    declared = {}
    for path in sorted(VERSIONS.glob("0*.py")):
        module = ast.parse(path.read_text())
        values = [node.value for node in module.body if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "backwards_compatible" for t in node.targets)]
        assert len(values) == 1 and isinstance(values[0], ast.Constant), f"{path.name} does not declare it"
        declared[path.name[:4]] = values[0].value
    assert [revision for revision, compatible in declared.items() if not compatible] == ["0004"]
    pending = pending_migrations("0002")
    assert [m.revision for m in pending][:3] == ["0003", "0004", "0005"] and not pending[1].backwards_compatible
    assert pending_migrations(pending[-1].revision) == []
