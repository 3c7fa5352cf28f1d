"""The metrics docs/metrics.md documents: its table's first column."""

from __future__ import annotations

import re
from pathlib import Path

METRICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
DOCUMENTED = re.findall(r"^\| `([a-z_]+)` \|", METRICS_DOC.read_text(), re.MULTILINE)
