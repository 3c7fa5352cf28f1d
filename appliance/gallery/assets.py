"""The files rendered notebooks load from the render host (MathJax 3 and its fonts): never from a CDN.

``webui/render-assets.json`` names them: npm packages, and which file or folder of each is copied to
``webui/gallery-assets/`` (built, not in git, shipped in the wheel). The build installs the packages
and calls ``copy_render_assets``; the render host serves the folder at /gallery/assets/.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from appliance.webui import GALLERY_ASSETS, RENDER_ASSETS_MANIFEST

ASSETS_PATH = "/gallery/assets"  # where the render host serves GALLERY_ASSETS; rendered pages link below it


@dataclass(frozen=True)
class RenderAsset:
    package: str
    source: str  # inside node_modules/<package>
    target: str  # inside gallery-assets


def manifest(path: Path = RENDER_ASSETS_MANIFEST) -> tuple[dict[str, str], list[RenderAsset]]:
    """The npm packages (name → version) and the files to copy from them."""
    data = json.loads(path.read_text())
    files = [RenderAsset(entry["package"], entry["from"], entry["to"]) for entry in data["files"]]
    return dict(data["packages"]), files


def missing_render_assets(root: Path = GALLERY_ASSETS) -> list[str]:
    """The assets the manifest names that ``root`` lacks (empty when the build put them all there)."""
    return [asset.target for asset in manifest()[1] if not (root / asset.target).exists()]


def copy_render_assets(node_modules: Path, root: Path = GALLERY_ASSETS) -> None:
    """Copy every asset from ``node_modules`` (where the manifest's packages were installed) into ``root``."""
    for asset in manifest()[1]:
        source, target = node_modules / asset.package / asset.source, root / asset.target
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing: install the npm packages of {RENDER_ASSETS_MANIFEST} "
                                    f"first (npm install {asset.package}@{manifest()[0][asset.package]}).")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
