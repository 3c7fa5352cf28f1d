"""Build the gallery's JupyterLab extension (this folder's npm project, @appliance/gallery) into
webui/labextensions/@appliance/gallery, where every member's JupyterLab finds it (hub/hubconfig.py), and
copy the gallery's render assets listed in webui/render-assets.json into webui/gallery-assets/.

Run by the wheel's build (setup.py), so a wheel ships the extension prebuilt, and by
``installer/install.sh --dev`` for a checkout. Nothing is done when the sources are unchanged since the
last build (a stamp of their SHA-256). Needs Node.js with npm, and JupyterLab (Python)
for its core package metadata: the build requirements in pyproject.toml bring it into the wheel's build.

Standard library only: it runs in pip's isolated build environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEBUI = HERE.parent
OUTPUT = WEBUI / "labextensions" / "@appliance" / "gallery"
ASSETS_LIST = WEBUI / "render-assets.json"
ASSETS = WEBUI / "gallery-assets"
STAMP = HERE / ".built-sha256"  # the hash of the sources the output was built from (not shipped)
INSTALLED = HERE / "node_modules" / ".lock-sha256"  # the lockfile node_modules was installed from
SOURCES = ["build.py", "package.json", "package-lock.json", "tsconfig.json", "src", "schema", "style"]


class BuildError(Exception):
    """The extension cannot be built here; the message says what to install or fix."""


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(file.relative_to(WEBUI).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def sources_hash() -> str:
    return _digest([HERE / name for name in SOURCES] + [ASSETS_LIST])


def built() -> bool:
    """Whether the output is there and built from the sources as they are."""
    return ((OUTPUT / "package.json").is_file() and (ASSETS.is_dir() or not ASSETS_LIST.is_file())
            and STAMP.is_file() and STAMP.read_text().strip() == sources_hash())


def _run(*argv: str) -> None:
    result = subprocess.run(argv, cwd=HERE, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"building the gallery's JupyterLab extension: {' '.join(argv)} exited "
                         f"{result.returncode} in {HERE}:\n{(result.stdout + result.stderr)[-4000:]}")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"building the gallery's JupyterLab extension needs {name} (Node.js): install it, "
                         "e.g. apt-get install nodejs npm, and build again.")
    return found


def core_path() -> Path:
    """JupyterLab's core package metadata (its staging/package.json): the shared packages to build against."""
    spec = importlib.util.find_spec("jupyterlab")
    if spec is None or spec.origin is None:
        raise BuildError(f"building the gallery's JupyterLab extension needs the Python package jupyterlab in "
                         f"{sys.executable}'s environment (pyproject.toml's build requirements bring it).")
    return Path(spec.origin).parent / "staging"


def install_packages(npm: str) -> None:
    lock = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    if INSTALLED.is_file() and INSTALLED.read_text().strip() == lock:
        return
    _run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
    INSTALLED.write_text(lock + "\n")


def copy_assets() -> None:
    """The render assets the gallery's renderer serves (webui/render-assets.json: npm packages, and files or
    folders to copy from node_modules/<package>/<from> to webui/gallery-assets/<to>)."""
    if not ASSETS_LIST.is_file():
        return
    listed = json.loads(ASSETS_LIST.read_text())
    declared = json.loads((HERE / "package.json").read_text()).get("devDependencies", {})
    for package, version in listed.get("packages", {}).items():
        if declared.get(package) != version:
            raise BuildError(f"{ASSETS_LIST} names {package} {version}, but webui/labextension/package.json's "
                             f"devDependencies have {declared.get(package)}: in webui/labextension run "
                             f"npm install --save-dev --save-exact {package}@{version}")
    shutil.rmtree(ASSETS, ignore_errors=True)
    for entry in listed.get("files", []):
        source = HERE / "node_modules" / entry["package"] / entry["from"]
        target = ASSETS / entry["to"]
        if not source.exists():
            raise BuildError(f"{ASSETS_LIST}: {source} does not exist; is {entry['package']} at the version listed?")
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build(force: bool = False) -> bool:
    """Build unless already built from these sources; whether it built."""
    if built() and not force:
        return False
    npm, node, core = _tool("npm"), _tool("node"), core_path()  # all found before anything is changed
    install_packages(npm)
    _run(node, str(HERE / "node_modules" / "typescript" / "bin" / "tsc"), "--sourceMap", "false")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    _run(node, str(HERE / "node_modules" / "@jupyterlab" / "builder" / "lib" / "build-labextension.js"),
         "--core-path", str(core), ".")
    copy_assets()
    STAMP.write_text(sources_hash() + "\n")
    return True


if __name__ == "__main__":
    try:
        print("built" if build(force="--force" in sys.argv) else "already built from these sources")
    except BuildError as error:
        sys.exit(str(error))
