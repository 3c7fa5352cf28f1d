"""The import layers in pyproject.toml (import-linter, run by tests/run) cover the whole package: a module
left out of every layer could import anything, and nothing would say so."""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit

ROOT = Path(__file__).resolve().parents[2]


def layered_modules() -> set[str]:
    contracts = tomlkit.parse((ROOT / "pyproject.toml").read_text()).unwrap()["tool"]["importlinter"]["contracts"]
    layers = next(contract["layers"] for contract in contracts if contract["type"] == "layers")
    return {name for layer in layers for name in re.split(r"\s*[|:]\s*", layer.strip())}


def top_level_modules() -> set[str]:
    package = ROOT / "appliance"
    return {f"appliance.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"} | {
        f"appliance.{path.name}" for path in package.iterdir() if (path / "__init__.py").is_file()}


def test_every_module_of_the_package_is_in_a_layer() -> None:
    assert top_level_modules() - layered_modules() == set()


def test_every_layered_name_is_a_module_of_the_package() -> None:
    assert layered_modules() - top_level_modules() == set()
