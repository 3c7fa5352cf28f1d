"""`appliance gallery …` moderates without importing what checks a submitted notebook: nbformat's schema
validator pulls in rfc3987_syntax, whose grammars take ~1 s to compile (5.4 s a command before, 0.55 after)."""

from __future__ import annotations

import subprocess
import sys


def test_moderation_and_its_command_do_not_import_nbformat() -> None:
    probe = ("import sys, appliance.cli_gallery, appliance.gallery.moderation, appliance.gallery.transactions; "
             "print(sorted(name for name in ('nbformat', 'rfc3987_syntax', 'appliance.gallery.publish') "
             "if name in sys.modules))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_publishing_does_import_it() -> None:  # the probe above can tell
    probe = "import sys, appliance.gallery.publish; print('nbformat' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "True"
