"""The appliance's home directory: its layout, its ownership check, secrets and the run lock.

    <home>/appliance.toml     optional configuration
    <home>/secrets/<name>     generated on first start, mode 0600
    <home>/postgres/data      the embedded cluster (owned by the PostgreSQL system user under root)
    <home>/run/               lock, pid file, control socket, PostgreSQL's socket directory
    <home>/logs/<child>.log   one rotated log per child, plus supervisor.log
    <home>/logs/members/<name>.log   a member's server output (the local spawner's)
    <home>/hubs/<id>/         a hub's working folder: its cookie secret and pid file

Only the appliance reads its logs, run directory and secrets: under root, members' servers run as
system users of their own, and logs name every member's files and activity.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from appliance.errors import ApplianceError

SYSTEM_HOME = Path("/var/lib/appliance")  # root's, and the installed service's


def write_private(path: Path, text: str) -> None:
    """Write ``path`` anew, readable by its owner alone from the moment it exists (mode 0600)."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


def default_home() -> Path:
    if os.geteuid() == 0:
        return SYSTEM_HOME
    return Path.home() / ".local" / "share" / "appliance"


class HomeError(ApplianceError):
    """The home directory cannot be used."""


class AlreadyRunning(ApplianceError):
    """Another supervisor holds this home's lock."""


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "appliance.lock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "appliance.pid"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def envs_dir(self) -> Path:
        """The members' shared Python environments (appliance.envs): read-only to members."""
        return self.root / "envs"

    @property
    def member_logs_dir(self) -> Path:
        """The local spawner's <name>.log of each member's server output."""
        return self.logs_dir / "members"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def check_owner(self) -> None:
        """Refuse a home that exists but belongs to another user."""
        if not self.root.exists():
            return
        owner = self.root.stat().st_uid
        if owner != os.geteuid():
            raise HomeError(
                f"home {self.root} is owned by {_user_name(owner)} (uid {owner}), but appliance runs as "
                f"{_user_name(os.geteuid())} (uid {os.geteuid()}).",
                hint=f"Run appliance as {_user_name(owner)}, or choose another home with APPLIANCE_HOME "
                "or --home.",
            )

    def ensure(self) -> None:
        """Create the layout (idempotent). The home must be traversable by the PostgreSQL user."""
        self.check_owner()
        for directory, mode in [
            (self.root, 0o755),
            (self.run_dir, 0o711),  # PostgreSQL traverses it to its socket folder
            (self.logs_dir, 0o700),
            (self.secrets_dir, 0o700),
            (self.root / "hubs", 0o700),
        ]:
            directory.mkdir(mode=mode, parents=True, exist_ok=True)
            os.chmod(directory, mode)
        self._tighten_logs()

    def _tighten_logs(self) -> None:
        """Folders 0700 and files 0600 under logs/: an earlier version left them readable by all."""
        for directory, _, files in os.walk(self.logs_dir):
            os.chmod(directory, 0o700)
            for name in files:
                path = Path(directory, name)
                if not path.is_symlink():
                    os.chmod(path, 0o600)

    def write_secret(self, name: str, value: str) -> None:
        """Set the secret ``name`` to ``value`` (one handed over, e.g. by the portal to a hub node)."""
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.secrets_dir / name, value + "\n")

    def secret(self, name: str, nbytes: int = 32) -> str:
        """Return the secret ``name``, generating it on first use (file mode 0600, never printed)."""
        path = self.secrets_dir / name
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        value = secrets.token_urlsafe(nbytes)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value + "\n")
        return value

    def acquire_lock(self) -> IO[str]:
        """Take the home's run lock for the life of this process, or refuse if it is held."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_file, "a+")  # noqa: SIM115 - held until the process exits
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            pid = self.read_pid()
            raise AlreadyRunning(
                f"appliance is already running on home {self.root}"
                + (f" (supervisor pid {pid})." if pid else "."),
                hint="See `appliance status`, or stop it with `appliance stop` first.",
            ) from None
        return handle

    def is_locked(self) -> bool:
        """True when a supervisor holds this home's lock."""
        if not self.lock_file.exists():
            return False
        with open(self.lock_file, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_reachable_by(path: Path, user: str) -> None:
    """Refuse a path that ``user`` cannot traverse (PostgreSQL runs as its own system user)."""
    entry = pwd.getpwnam(user)
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            break
        st = directory.stat()
        if st.st_uid == entry.pw_uid:
            continue
        if not st.st_mode & 0o001:
            raise HomeError(
                f"the {user} system user cannot reach {path}: {directory} has mode {oct(st.st_mode & 0o777)}.",
                hint=f"Run `chmod o+x {directory}`, or choose a home outside it with APPLIANCE_HOME.",
            )
