"""`appliance doctor`: what breaks a lab in its second month, checked in one command, each problem with what to
do about it. The checks (checks.py) are functions of facts that facts.py reads off the machine and the
running appliance; the portal records the databases' size each day for it (growth.py, its tables.py).

Imported on first use: the portal wants only the recorder.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.doctor.checks import FAIL as FAIL
    from appliance.doctor.checks import OK as OK
    from appliance.doctor.checks import WARN as WARN
    from appliance.doctor.checks import Finding as Finding
    from appliance.doctor.facts import examine as examine
    from appliance.doctor.growth import keep_recording as keep_recording
    from appliance.doctor.report import render as render

_EXPORTS = {"FAIL": "checks", "OK": "checks", "WARN": "checks", "Finding": "checks", "examine": "facts",
            "keep_recording": "growth", "render": "report"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = list(_EXPORTS)
