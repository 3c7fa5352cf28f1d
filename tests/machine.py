"""Fresh Debian 12 machines with systemd as PID 1, for the installer, SystemdSpawner and several-machine labs: a
debootstrapped root (built once, kept as a tarball) booted with systemd-nspawn. See NOTES.md, "A real systemd".

A machine shares this machine's network by default, so what it serves is reached on 127.0.0.1 (give it free ports).
On a ``PrivateNetwork`` it is a host of its own instead: its own address, its own loopback, the other machines of
that network reached by address and by name, this machine (the test process) reaching it at its address.

Machines on a private network cannot reach the package registries, and installing takes minutes: ``installed_root``
builds a root with the appliance installed once per checkout, and ``Machine(template=...)`` boots a copy of it
(an overlay on it: nothing is copied until the machine writes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Sequence
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
# A name that is a host name, an interface name's part and a file name at once
NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# What the installer never reads, left out of a template's key; and the template's recipe, kept in
TEMPLATE_FREE = ("tests", "docs", "bench")
TEMPLATE_RECIPE = "tests/machine.py"
# A Slurm lab's machines (controller, compute nodes) as one template for every test that needs several machines:
# one installed root per run. procps for ps and pgrep, iproute2 for ip inside
LAB_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge", "procps", "iproute2")


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


def ip(*argv: str, netns_of: int | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """iproute2 on this machine, or in the network namespace of process ``netns_of`` (a machine's init): the
    minimal Debian has no ``ip`` of its own."""
    enter = ["nsenter", "-t", str(netns_of), "-n", "--"] if netns_of is not None else []
    result = subprocess.run([*enter, "ip", *argv], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {result.stderr.strip()}")
    return result


class PrivateNetwork:
    """A bridge on this machine with an IPv4 subnet of its own, for machines that must be separate hosts (a
    portal and its hub nodes, a Slurm controller and its compute nodes). This machine's end of the bridge holds
    the subnet's first address, so the test process reaches every machine at its address; nothing is routed
    beyond it, so the machines reach nothing else (the package registries neither: see ``installed_root``).

    Each machine gets the next free address (or the one it asks for), its name in every machine's /etc/hosts, and
    the address on its ``host0`` interface as soon as it boots. One network of a name at a time on this machine:
    the bridge is br-<name>, and what a killed run left of it (the bridge, its machines) is removed first.
    """

    def __init__(self, name: str, subnet: str = "10.77.0.0/24") -> None:
        if not NAME.match(name) or len(name) > 12:
            raise ValueError(f"network name {name!r}: lower-case letters, digits and -, 12 at most")
        self.name = name
        self.subnet = ipaddress.IPv4Network(subnet)
        self.bridge = f"br-{name}"
        self.gateway = str(self.subnet.network_address + 1)  # this machine's address on the network
        self.addresses: dict[str, str] = {}  # machine name: address
        self.machines: list[Machine] = []
        self._owner = CACHE / "networks" / f"{name}.owner"
        self._create()

    def _create(self) -> None:
        if ip("link", "show", self.bridge, check=False).returncode == 0:
            self._remove_stale()
        for line in ip("-o", "-4", "addr", "show").stdout.splitlines():
            device, address = line.split()[1], line.split()[3]
            if ipaddress.IPv4Interface(address).network.overlaps(self.subnet):
                raise RuntimeError(f"{self.subnet} is in use on this machine ({device} has {address}): "
                                   "give the network another subnet")
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        self._owner.parent.mkdir(parents=True, exist_ok=True)
        me = psutil.Process()
        self._owner.write_text(f"{me.pid} {me.create_time()}\n")

    def _remove_stale(self) -> None:
        """The bridge is there already: left by a run that was killed (its machines may still run, nspawn is in
        a session of its own), or in use by a run still going, which this one must not break."""
        try:
            pid, started = self._owner.read_text().split()
            owner = psutil.Process(int(pid))
            if owner.create_time() == float(started) and owner.pid != os.getpid():
                raise RuntimeError(f"network {self.name} ({self.bridge}) is in use by process {pid}")
        except (OSError, ValueError, psutil.NoSuchProcess):
            pass  # no owner, or it has ended
        left = [process for process in psutil.process_iter(["cmdline"])
                if f"--network-bridge={self.bridge}" in (process.info["cmdline"] or [])
                and process.info["cmdline"][0].endswith("systemd-nspawn")]
        for process in left:
            process.terminate()  # nspawn shuts its machine down
        _, alive = psutil.wait_procs(left, timeout=60)
        for process in alive:
            process.kill()
        for process in left:  # their folders: ``-D <cache>/machine-*/root``
            root = Path(process.info["cmdline"][process.info["cmdline"].index("-D") + 1])
            if root.parent.parent == CACHE and root.parent.name.startswith("machine-"):
                remove_machine_folder(root.parent)
        ip("link", "del", self.bridge)

    def join(self, machine: Machine, address: str | None = None) -> str:
        """The machine's address (the next free one unless asked for); every machine's /etc/hosts names it."""
        assert machine.name is not None, "a machine on a private network has a name"
        if machine.name in self.addresses:
            raise ValueError(f"there is a machine {machine.name} on network {self.name} already")
        taken = {self.gateway, *self.addresses.values()}
        if address is None:
            address = next(str(host) for host in self.subnet.hosts() if str(host) not in taken)
        elif address in taken or ipaddress.IPv4Address(address) not in self.subnet:
            raise ValueError(f"{address} is taken or not in {self.subnet}")
        self.addresses[machine.name] = address
        self.machines.append(machine)
        self.write_hosts()
        return address

    def leave(self, machine: Machine) -> None:
        if machine in self.machines:
            self.machines.remove(machine)
            del self.addresses[machine.name or ""]

    def hosts(self) -> str:
        """/etc/hosts of a machine of this network (the minimal Debian has none)."""
        return "".join(["127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
                        *[f"{address} {name}\n" for name, address in self.addresses.items()]])

    def write_hosts(self) -> None:
        for machine in self.machines:
            if machine.root.is_dir():
                machine.write("/etc/hosts", self.hosts())

    def destroy(self) -> None:
        """Its machines, then the bridge."""
        for machine in list(self.machines):
            machine.destroy()
        ip("link", "del", self.bridge, check=False)
        self._owner.unlink(missing_ok=True)

    def __enter__(self) -> PrivateNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


class Machine:
    """One booted fresh machine. ``run`` executes a command inside it as root (a login-like clean env).

    ``name`` is its host name (and systemd-nspawn's machine name, so that two machines' interfaces differ); a
    ``network`` makes it a host of that private network (it needs a name), at ``address`` or the next free one; a
    ``template`` (``installed_root()``) is its root instead of the fresh Debian with this checkout in /src: an
    overlay whose lower layer is the template (mounted in a moment; what the machine changes goes to its own
    folder), or where overlays cannot be mounted a copy (17-78 s here for an installed root of 1.9 GB).
    """

    def __init__(self, name: str | None = None, network: PrivateNetwork | None = None,
                 template: Path | None = None, address: str | None = None) -> None:
        if name is not None and not NAME.match(name):
            raise ValueError(f"machine name {name!r}: lower-case letters, digits and -, 20 at most")
        if network is not None and name is None:
            raise ValueError("a machine on a private network needs a name (its host name there)")
        self.name = name
        self.network = network
        self.template = template
        self.requested_address = address
        self.address: str | None = None  # on the private network, once prepared
        self.veth: str | None = None  # this machine's end of its network interface, once booted
        self.dir = Path(tempfile.mkdtemp(prefix="machine-", dir=CACHE if CACHE.exists() else None))
        self.root = self.dir / "root"
        self.nspawn: subprocess.Popen[bytes] | None = None

    def prepare(self) -> Machine:
        if self.template is not None:
            self._mount_template(self.template)
            self._refresh_tests(self.root / "src")
        else:
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
        if self.name is not None or self.template is not None:
            # every copy of one root would be the same machine to systemd and journald otherwise
            self.write("/etc/machine-id", uuid.uuid4().hex + "\n")
        if self.name is not None:
            self.write("/etc/hostname", self.name + "\n")
            self.write("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {self.name}\n")
        if self.network is not None:
            self.address = self.network.join(self, self.requested_address)
        return self

    def _mount_template(self, template: Path) -> None:
        upper, work = self.dir / "upper", self.dir / "work"
        for folder in (self.root, upper, work):
            folder.mkdir()
        mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                                  f"lowerdir={template},upperdir={upper},workdir={work}", str(self.root)],
                                 capture_output=True, check=False)
        if mounted.returncode != 0:
            self.root.rmdir()
            subprocess.run(["cp", "-a", "--reflink=auto", str(template), str(self.root)], check=True)

    @staticmethod
    def _refresh_tests(target: Path) -> None:
        """The template's /src with this checkout's tests and docs as they are now: a template is kept for what
        the installer installs (``template_key``), so it may have been built before they changed."""
        for folder in TEMPLATE_FREE:
            shutil.rmtree(target / folder, ignore_errors=True)
        for name in checkout_files():
            if name.startswith(tuple(f"{folder}/" for folder in TEMPLATE_FREE)):
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, target / name)

    @staticmethod
    def _copy_checkout(target: Path) -> None:
        """A clone of this checkout with its uncommitted work on top (what a developer is testing)."""
        subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
        for name in checkout_files():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)

    def boot(self, timeout: float = 60) -> Machine:
        binds = [f"--bind-ro={path}" for path in self._wheel_dirs()]
        for name, inside in DOWNLOAD_CACHES.items():
            (CACHE / "downloads" / name).mkdir(parents=True, exist_ok=True)
            binds.append(f"--bind={CACHE / 'downloads' / name}:{inside}")
        if self.name is not None:  # nspawn names the machine after its folder ("root") otherwise
            binds.append(f"--machine={self.network.name}-{self.name}" if self.network else f"--machine={self.name}")
        if self.network is not None:
            binds.append(f"--network-bridge={self.network.bridge}")
        log = open(self.dir / "console.log", "ab")  # noqa: SIM115 - lives as long as the machine
        self.nspawn = subprocess.Popen(["systemd-nspawn", "-D", str(self.root), "--register=no", "--keep-unit",
                                        "--boot", *binds], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        addressed = self.network is None
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited:\n{self.console()[-3000:]}")
            pid = self._init()
            if pid is not None and not addressed:
                addressed = self._set_address(pid)  # early: services that start at boot may listen on it
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip() if pid else ""
            if addressed and state in ("running", "degraded"):
                return self
            time.sleep(0.3)
        raise RuntimeError(f"the machine did not boot within {timeout} s:\n{self.console()[-3000:]}")

    def _set_address(self, pid: int) -> bool:
        """The machine's address on host0, set from here (the minimal Debian has no ``ip``, and no networkd
        running), once nspawn has moved the interface in. No default route: outside the network nothing answers,
        so that trying fails at once rather than after a timeout."""
        assert self.network is not None and self.address is not None
        shown = ip("-o", "link", "show", "host0", netns_of=pid, check=False)
        if shown.returncode != 0:
            return False
        ip("addr", "replace", f"{self.address}/{self.network.subnet.prefixlen}", "dev", "host0", netns_of=pid)
        ip("link", "set", "host0", "up", netns_of=pid)
        peer = re.search(r"host0@if(\d+)", shown.stdout)  # the index of this machine's end
        if peer is not None:
            for line in ip("-o", "link", "show").stdout.splitlines():
                index, name = line.split(":")[:2]
                if index == peer.group(1):
                    self.veth = name.strip().split("@")[0]
        return True

    def _init(self) -> int | None:
        """The pid (here) of the machine's systemd."""
        if self.nspawn is None or self.nspawn.poll() is not None:
            return None
        try:
            children = psutil.Process(self.nspawn.pid).children()
        except psutil.NoSuchProcess:
            return None
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
        # its network too: on a private network the machine's own interfaces and loopback (on this machine's
        # network that is the same namespace as here)
        result = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i",
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

    def shut_down(self) -> None:
        """Power the machine off and wait for it; its root stays."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn shuts the machine down
            try:
                self.nspawn.wait(60)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()

    def power_off(self) -> None:
        """Cut the machine's power: its init killed, and with it every process of its PID namespace at once; nothing
        is shut down cleanly (a machine lost, or one about to be thrown away: a clean shutdown takes 40-100 s
        once Slurm and the appliance run)."""
        init = self._init()
        if init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
        if self.nspawn is not None and self.nspawn.poll() is None:
            try:
                self.nspawn.wait(30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()

    def destroy(self) -> None:
        self.power_off()
        if self.network is not None:
            self.network.leave(self)
        remove_machine_folder(self.dir)


def remove_machine_folder(folder: Path) -> None:
    """A machine's folder, its root unmounted first when it is an overlay on a template (removing through the
    overlay would only hide the template's files, slowly)."""
    root = folder / "root"
    if os.path.ismount(root) and subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", str(root)], capture_output=True, check=True)
    shutil.rmtree(folder, ignore_errors=True)


def checkout_files() -> list[str]:
    """The checkout's files as a developer has them: tracked ones and new ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    return [name for name in filter(None, listed.split("\0")) if (REPO / name).is_file()]


def template_key() -> str:
    """What an installed root depends on: the content of every file of this checkout (committed or not) the
    installer may read, and the recipe. Tests, docs and benchmarks are left out, so that changing one does not
    rebuild the template (copies get them fresh, ``Machine._refresh_tests``)."""
    digest = hashlib.sha256()
    for name in sorted(checkout_files()):
        if name.startswith(tuple(f"{folder}/" for folder in TEMPLATE_FREE)) and name != TEMPLATE_RECIPE:
            continue
        path = REPO / name
        digest.update(f"{name}\0{os.access(path, os.X_OK)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# The templates this process uses: a shared lock on each (a descriptor kept open until the process ends) keeps
# other runs from removing them while machines are copied from them
_templates_in_use: dict[Path, int] = {}


def installed_root(extra_packages: Sequence[str] = ()) -> Path:
    """A machine root with the appliance installed by the installer (``--no-start``: the service enabled, not
    started; the configuration at its defaults) and ``extra_packages`` from Debian, for ``Machine(template=...)``.

    Installing takes minutes and needs the registries, which machines on a private network cannot reach, so it is
    done once, on this machine's network, and kept in the cache for this checkout (``template_key``: what the
    installer reads, committed or not) and these packages; templates of other checkouts are removed unless a run
    is using them. Machines
    copied from one template share what was made while installing: the appliance's secrets and the admin login,
    munge's key (what a Slurm cluster's machines need alike). No daemon the extra packages bring was started:
    the installer's and apt's ones start when a copy boots.
    """
    packages = sorted(set(extra_packages))
    base = base_root()
    key = template_key()
    recipe = hashlib.sha256(f"{packages} {base.stat().st_mtime_ns}".encode()).hexdigest()
    directory = CACHE / f"installed-{key[:16]}-{recipe[:8]}"
    if directory in _templates_in_use:
        return directory / "root"
    building = os.open(CACHE / "installed.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(building, fcntl.LOCK_EX)  # one run builds, another with the same checkout waits for it
        in_use = os.open(f"{directory}.in-use", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(in_use, fcntl.LOCK_SH)
        _templates_in_use[directory] = in_use
        _remove_other_templates(key)
        if not (directory / "root").is_dir():
            _build_template(directory, packages)
    finally:
        os.close(building)
    return directory / "root"


def _remove_other_templates(key: str) -> None:
    for other in CACHE.glob("installed-*"):
        if other.suffix == ".in-use" or other.name.startswith(f"installed-{key[:16]}-"):
            continue
        # no run takes a template without the building lock, held here: once this lock is had, nobody uses it
        lock = os.open(f"{other}.in-use", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # another run copies machines from it
        finally:
            os.close(lock)
        shutil.rmtree(other)
        Path(f"{other}.in-use").unlink(missing_ok=True)


def _build_template(directory: Path, packages: Sequence[str]) -> None:
    machine = Machine().prepare()
    hostname = (machine.root / "etc" / "hostname").read_text().strip()
    machine.write("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {hostname}\n")  # minbase has none
    try:
        machine.boot()
        # --skip-checks: this machine's network is shared, and its ports 8000-8011 may be another test's; the
        # copies listen on their own networks, or get a configuration of free ports before they start
        output = machine.run("bash", "-c", "cd /src && installer/install.sh --no-start --skip-checks",
                             timeout=1800).stdout
        if packages:
            # policy-rc.d 101: nothing starts while installing (Slurm's daemons would take this network's ports)
            machine.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")
            (machine.root / "usr/sbin/policy-rc.d").chmod(0o755)
            machine.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                        "--no-install-recommends", *packages, timeout=900)
            (machine.root / "usr/sbin/policy-rc.d").unlink()
        machine.shut_down()
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        machine.root.rename(partial / "root")
        (partial / "install.log").write_text(output)
        partial.rename(directory)
    finally:
        machine.destroy()
