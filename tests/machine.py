"""A fresh Debian 12 machine with systemd as PID 1, for the installer and SystemdSpawner: a debootstrapped
root (built once, kept as a tarball) booted with systemd-nspawn. It shares this machine's network, so
what it serves is reached on 127.0.0.1 (give it free ports). See NOTES.md, "A real systemd".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import psutil

CACHE = Path(os.environ.get("APPLIANCE_TEST_MACHINE_CACHE", "/var/cache/appliance-tests"))
BASE = CACHE / "debian12-minbase.tar"
MIRROR = "http://deb.debian.org/debian"
REPO = Path(__file__).resolve().parents[1]
# The registries' client setup of this machine (a CI runner's proxy or wheel cache), copied in as it is
CLIENT_FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf", "/etc/xdg/pip", "/etc/npmrc", "/usr/etc/npmrc",
                "/root/.npmrc"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the registries sent, kept between machines as a CI runner's package proxy would keep it: apt's archives,
# pip's and npm's caches. Each machine still installs everything itself; only the downloads are spared.
DOWNLOAD_CACHES = {"apt": "/var/cache/apt/archives", "pip": "/root/.cache/pip", "npm": "/root/.npm"}


def base_root() -> Path:
    """The minimal Debian 12 root as a tarball, built with debootstrap the first time (about a minute)."""
    if not BASE.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as building:
            root = Path(building) / "root"
            subprocess.run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus,ca-certificates",
                            "bookworm", str(root), MIRROR], check=True, capture_output=True)
            partial = BASE.with_suffix(".partial")
            with tarfile.open(partial, "w") as tar:
                tar.add(root, arcname=".")
            partial.rename(BASE)
    return BASE


class Machine:
    """One booted fresh machine. ``run`` executes a command inside it as root (a login-like clean env)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="machine-", dir=CACHE if CACHE.exists() else None))
        self.root = self.dir / "root"
        self.nspawn: subprocess.Popen[bytes] | None = None

    def prepare(self) -> Machine:
        self.root.mkdir()
        subprocess.run(["tar", "-C", str(self.root), "-xf", str(base_root())], check=True)
        for name in CLIENT_FILES:
            source = Path(name)
            if source.is_dir():
                shutil.copytree(source, self.root / name.lstrip("/"), dirs_exist_ok=True)
            elif source.is_file():
                (self.root / name.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, self.root / name.lstrip("/"))
        self._copy_checkout(self.root / "src")
        return self

    @staticmethod
    def _copy_checkout(target: Path) -> None:
        """A clone of this checkout with its uncommitted work on top (what a developer is testing)."""
        subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                check=True, capture_output=True, text=True).stdout
        for name in filter(None, listed.split("\0")):
            if (REPO / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, target / name)

    def boot(self, timeout: float = 60) -> Machine:
        binds = [f"--bind-ro={path}" for path in self._wheel_dirs()]
        for name, inside in DOWNLOAD_CACHES.items():
            (CACHE / "downloads" / name).mkdir(parents=True, exist_ok=True)
            binds.append(f"--bind={CACHE / 'downloads' / name}:{inside}")
        log = open(self.dir / "console.log", "ab")  # noqa: SIM115 - lives as long as the machine
        self.nspawn = subprocess.Popen(["systemd-nspawn", "-D", str(self.root), "--register=no", "--keep-unit",
                                        "--boot", *binds], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited:\n{self.console()[-3000:]}")
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip() if self._init() else ""
            if state in ("running", "degraded"):
                return self
            time.sleep(0.3)
        raise RuntimeError(f"the machine did not boot within {timeout} s:\n{self.console()[-3000:]}")

    def _init(self) -> int | None:
        """The pid (here) of the machine's systemd."""
        if self.nspawn is None:
            return None
        children = psutil.Process(self.nspawn.pid).children()
        return children[0].pid if children else None

    @staticmethod
    def _wheel_dirs() -> list[str]:
        links = os.environ.get("PIP_FIND_LINKS", "")
        return [path for path in links.split() if Path(path).is_dir()]

    def run(self, *argv: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8",
               **{key: value for key, value in os.environ.items() if key.startswith("PIP_")
                  or key == "NODE_EXTRA_CA_CERTS"}}
        pid = self._init()
        assert pid is not None, "boot() first"
        result = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-p", "--", "env", "-i",
                                 *[f"{key}={value}" for key, value in env.items()], *argv],
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode} in the machine:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def reboot(self, timeout: float = 120) -> Machine:
        """Reboot: systemd-nspawn exits when its machine reboots, so it is started again on the same root."""
        assert self.nspawn is not None, "boot() first"
        self.run("systemctl", "reboot", check=False)
        self.nspawn.wait(timeout)
        return self.boot()

    def write(self, path: str, text: str) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def console(self) -> str:
        path = self.dir / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn shuts the machine down
            try:
                self.nspawn.wait(60)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
