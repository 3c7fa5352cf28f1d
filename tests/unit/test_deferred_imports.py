"""The IRI grammar's import is put off until jsonschema first checks an `iri`, and then answers as before.

Each case runs in a new interpreter: what is imported at a process's start is what is tested."""

from __future__ import annotations

import json
import subprocess
import sys

CHECKS = """
import json, sys
import jsonschema
checker = jsonschema.FormatChecker()
before = "lark" in sys.modules
samples = ["https://lab.example/notebooks/ü?x=1#top", "relative/ü", "http://[::1", "no scheme", ":", "a:b c"]
answers = {fmt: [checker.conforms(sample, fmt) for sample in samples] for fmt in ("iri", "iri-reference")}
print(json.dumps({"grammar_at_import": before, "answers": answers}))
"""


def run(deferred: bool) -> dict[str, object]:
    prelude = "from appliance.deferred_imports import defer_iri_grammar; defer_iri_grammar()\n" if deferred else ""
    result = subprocess.run([sys.executable, "-c", prelude + CHECKS], capture_output=True, text=True, check=True)
    found: dict[str, object] = json.loads(result.stdout)
    return found


def test_deferred_grammar_is_not_compiled_at_import_and_checks_answer_as_before() -> None:
    plain, deferred = run(deferred=False), run(deferred=True)
    assert plain["grammar_at_import"] is True  # what the deferral is for: jsonschema's import compiles it
    assert deferred["grammar_at_import"] is False
    assert deferred["answers"] == plain["answers"]
    assert {False, True} <= set(plain["answers"]["iri"])  # type: ignore[index]  # the samples tell valid from not


def test_the_entry_points_defer_it() -> None:
    """The portal's, the hubs', the renderer's and members' servers' entry points (appliance.application) and
    the command line (appliance/__main__.py) put the stand-in in place before anything imports jsonschema."""
    code = "import sys, appliance.application.portal; print('lark' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
