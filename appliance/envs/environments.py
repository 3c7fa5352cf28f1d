"""The members' software: Python environments shared by every member, each a kernel in everyone's JupyterLab.

Like The Littlest JupyterHub's user environment, but not the appliance's own: ``<home>/envs/<name>`` is a venv
with ipykernel, and ``<home>/envs/jupyter/kernels/<kernel>/kernel.json`` its kernel, which members' servers
find on their JUPYTER_PATH (hubconfig sets it). The environment ``default`` is the kernel ``python3``: it takes
the place of the appliance's own in every member's launcher, so that what an administrator adds is in a new
notebook's kernel. Others (``appliance env create py312-ml``) are kernels of their own name.

A kernel reads the environment when it starts: running servers need no restart, new kernels see a change.
The environments belong to the appliance's user and are read-only to members, whose kernels run them: no member
can change what another's kernel imports.

A change that fails leaves the environment as it was: pip resolves and builds everything before it installs,
and if it fails after it began installing, the packages are put back to what ``pip freeze`` said before. One
change at a time: a lock file serialises them across processes (the command line, the admin console).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ApplianceError

DEFAULT = "default"
DEFAULT_KERNEL = "python3"  # JupyterLab's default kernel name: the shared environment takes its place
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
KERNEL_PACKAGE = "ipykernel"
PROTECTED = {KERNEL_PACKAGE, "pip"}  # without them the environment is no kernel, or cannot be changed back
MEMBERS_READ = 0o022  # the umask of every change: members' kernels read and run what it writes, never change it
Say = Callable[[str], None]


class EnvError(ApplianceError):
    """An environment cannot be made or changed as asked."""


@dataclass(frozen=True)
class Environment:
    name: str
    kernel: str
    display_name: str
    python: str  # its version
    packages: dict[str, str]  # name -> version, as pip lists them

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kernel": self.kernel, "display_name": self.display_name, "python": self.python,
                "packages": [{"name": name, "version": version}
                             for name, version in sorted(self.packages.items(), key=lambda item: item[0].lower())]}


def kernel_name(env: str) -> str:
    return DEFAULT_KERNEL if env == DEFAULT else env


def check_name(name: str) -> str:
    if not NAME.match(name) or name == "jupyter":
        raise EnvError(f"{name!r} is not an environment name: up to 40 lower-case letters, digits, '.', "
                                "'_' and '-', starting with a letter or digit (and not 'jupyter').")
    return name


def check_requirements(requirements: list[str]) -> list[str]:
    """Each a requirement as pip reads one ("pandas", "numpy>=2", "scipy==1.14.1"), never an option."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not requirements:
        raise EnvError("name at least one package.")
    for requirement in requirements:
        try:
            if requirement.startswith("-"):
                raise InvalidRequirement(requirement)
            Requirement(requirement)
        except InvalidRequirement:
            raise EnvError(f"{requirement!r} is not a package requirement (e.g. pandas, numpy>=2, "
                                    "scipy==1.14.1).") from None
    return requirements


class Environments:
    """The shared environments under ``root`` (``<home>/envs``), made with ``python``."""

    def __init__(self, root: Path, python: str | None = None):
        self.root = root
        self.python = python or str(getattr(sys, "_base_executable", sys.executable))

    @property
    def jupyter_path(self) -> Path:
        """What members' servers put on their JUPYTER_PATH: the environments' kernels are below it."""
        return self.root / "jupyter"

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir()
                      if (entry / "bin" / "python").exists() and NAME.match(entry.name))

    def describe(self, name: str) -> Environment:
        env = self._existing(name)
        listed = self._run_quiet([str(env / "bin" / "python"), "-m", "pip", "list", "--format=json",
                                  "--disable-pip-version-check"])
        version = self._run_quiet([str(env / "bin" / "python"), "-c",
                                   "import platform; print(platform.python_version())"]).strip()
        spec = json.loads((self._kernel_dir(name) / "kernel.json").read_text())
        return Environment(name, kernel_name(name), spec["display_name"], version,
                           {item["name"]: item["version"] for item in json.loads(listed)})

    def create(self, name: str, say: Say, python: str | None = None) -> Environment:
        """A new environment with ipykernel, and its kernel for every member."""
        env = self.path(name)
        with self._locked():
            if env.exists():
                raise EnvError(f"the environment {name} exists already.",
                                        hint=f"Add packages to it: appliance env add --env {name} PACKAGE…")
            interpreter: str = python or self.python
            say(f"making {env} with {interpreter}")
            try:
                self._stream([interpreter, "-m", "venv", str(env)], say)
                self._stream([str(env / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                              "--no-input", KERNEL_PACKAGE], say)
            except EnvError:
                shutil.rmtree(env, ignore_errors=True)
                raise
            self._write_kernel(name, env)
        say(f"the kernel {kernel_name(name)!r} is in every member's launcher now (reload JupyterLab to see it)")
        return self.describe(name)

    def add(self, name: str, requirements: list[str], say: Say) -> Environment:
        """Install ``requirements`` into the environment (made first if it is the default one and missing)."""
        check_requirements(requirements)
        if name == DEFAULT and not self.path(name).exists():
            self.create(name, say)
        env = self._existing(name)
        with self._locked(), self._as_it_was(env, say):
            self._stream([str(env / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                          "--no-input", *requirements], say)
        return self.describe(name)

    def remove(self, name: str, packages: list[str], say: Say) -> Environment:
        check_requirements(packages)
        protected = sorted(PROTECTED.intersection(package.lower() for package in packages))
        if protected:
            raise EnvError(f"{', '.join(protected)} cannot be removed: the environment needs it to be a "
                                    "kernel and to be changed.")
        env = self._existing(name)
        installed = {package.lower().replace("_", "-") for package in self.describe(name).packages}
        missing = [package for package in packages if package.lower().replace("_", "-") not in installed]
        if missing:
            raise EnvError(f"{', '.join(missing)} not installed in {name}.",
                                    hint=f"See what is: appliance env list {name}")
        with self._locked(), self._as_it_was(env, say):
            self._stream([str(env / "bin" / "python"), "-m", "pip", "uninstall", "--disable-pip-version-check",
                          "--yes", *packages], say)
        return self.describe(name)

    def delete(self, name: str, say: Say) -> None:
        env = self._existing(name)
        with self._locked():
            shutil.rmtree(self._kernel_dir(name), ignore_errors=True)  # gone from launchers first
            shutil.rmtree(env)
        say(f"deleted {env}; running kernels of it go on until they end")

    def _existing(self, name: str) -> Path:
        env = self.path(name)
        if not (env / "bin" / "python").exists():
            known = ", ".join(self.names()) or "none yet"
            raise EnvError(f"there is no environment {name} (environments: {known}).",
                                    hint=f"Make it: appliance env create {name}")
        return env

    def _kernel_dir(self, name: str) -> Path:
        return self.jupyter_path / "kernels" / kernel_name(name)

    def _write_kernel(self, name: str, env: Path) -> None:
        folder = self._kernel_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        for made in (self.jupyter_path, folder.parent, folder):
            os.chmod(made, 0o755)
        display = "Python 3 (lab)" if name == DEFAULT else f"Python ({name})"
        spec = {"argv": [str(env / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": display, "language": "python", "metadata": {"debugger": True}}
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
        os.chmod(folder / "kernel.json", 0o644)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        with open(self.root / ".lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EnvError("another change to the environments is under way.",
                                        hint="Wait for it to end (the admin console's Software page shows it), "
                                             "then try again.") from None
            yield

    @contextlib.contextmanager
    def _as_it_was(self, env: Path, say: Say) -> Iterator[None]:
        """Put the packages back as ``pip freeze`` had them if the change fails."""
        python = str(env / "bin" / "python")
        before = self._run_quiet([python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"])
        try:
            yield
        except EnvError:
            after = self._run_quiet([python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"])
            if after != before:
                say("the change failed part way: putting the environment back as it was")
                added = sorted({line.split("==")[0] for line in after.split()} -
                               {line.split("==")[0] for line in before.split()})
                if added:
                    self._stream([python, "-m", "pip", "uninstall", "--yes", *added], say)
                frozen = env / ".before.txt"
                frozen.write_text(before)
                self._stream([python, "-m", "pip", "install", "--no-deps", "-r", str(frozen)], say)
                frozen.unlink()
            raise

    @staticmethod
    def _stream(argv: list[str], say: Say) -> None:
        """Run ``argv``, saying each line it prints; a failure is an EnvError naming its last lines."""
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   stdin=subprocess.DEVNULL, umask=MEMBERS_READ)
        assert process.stdout is not None
        last: list[str] = []
        for line in process.stdout:
            line = line.rstrip()
            if line:
                say(line)
                last = [*last[-4:], line]
        if process.wait() != 0:
            said = "\n".join(last) or f"exit status {process.returncode}"
            raise EnvError(f"{Path(argv[0]).name} {' '.join(argv[1:4])} failed; the environment is as it "
                                    f"was:\n{said}")

    @staticmethod
    def _run_quiet(argv: list[str]) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise EnvError(f"{' '.join(argv[:4])} failed: {result.stderr.strip()[-500:]}")
        return result.stdout
