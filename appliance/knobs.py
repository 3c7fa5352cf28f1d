"""How a configuration knob is declared: once, in its component's settings dataclass.

A section is a frozen dataclass whose docstring names the section and whose fields are made with
:func:`knob`, which keeps the help text beside the default. ``config.py`` reads the declarations to
load values, validate them, print them and document them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def knob(default: T, help: str, *, secret: bool = False) -> T:
    """Declare a knob with its default and help text (units, what 0 or empty means, when it applies)."""
    metadata = {"help": help, "secret": secret}
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class KnobInfo:
    section: str
    name: str
    type: type
    default: Any
    help: str
    secret: bool

    @property
    def env_var(self) -> str:
        return f"APPLIANCE_{self.section.upper()}_{self.name.upper()}"


def describe(section: str, settings_class: type) -> list[KnobInfo]:
    """The knobs of one section, in declaration order."""
    type_names: dict[object, type] = {"str": str, "int": int, "float": float, "bool": bool,
                                      str: str, int: int, float: float, bool: bool}
    return [
        KnobInfo(
            section=section,
            name=f.name,
            type=type_names[f.type],
            default=f.default,
            help=f.metadata["help"],
            secret=f.metadata.get("secret", False),
        )
        for f in dataclasses.fields(settings_class)
    ]
