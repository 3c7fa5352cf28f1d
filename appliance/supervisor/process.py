"""Starting children in their own process group, reaping them, and killing whole groups.

The supervisor is a Linux *child subreaper*: a grandchild whose parent dies is re-parented to the
supervisor rather than to PID 1, so nothing a child starts can outlive a shutdown unnoticed.
Every exit status is collected by one SIGCHLD handler (``waitpid(-1)``); code running inside the
supervisor must therefore never wait for a subprocess of its own (no ``subprocess.run`` while the
launcher is installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pwd
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from appliance.supervisor.logs import JournalSink, RotatingLog, journal_fields
from appliance.supervisor.ports import LISTEN_FDS_ENV
from appliance.supervisor.spec import ChildSpec

log = logging.getLogger("appliance.supervisor")
PR_SET_CHILD_SUBREAPER = 36
# in every child's environment (and passed on by the hubs to members' servers): the home they belong to, by
# which a later supervisor of that home finds what a dead one left running
MARKER = "APPLIANCE_SUPERVISED_BY"


@dataclass
class ChildProcess:
    """A started child: its pid (also its process-group id) and a future for its wait status."""

    pid: int
    exited: asyncio.Future[int]
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class ProcessLauncher:
    """Spawns children with their output going to rotated logs, and reaps every child."""

    def __init__(self, logs_dir: Path, log_max_bytes: int, log_backups: int, base_env: Mapping[str, str],
                 cwd: Path, journal_home: Path | None = None):
        self.logs_dir = logs_dir
        self.journal_home = journal_home  # given: each child's lines go to the journal too, with this home's fields
        self.cwd = cwd  # children never inherit the operator's working directory (`python -m` would import from it)
        self.log_max_bytes = log_max_bytes
        self.log_backups = log_backups
        self.base_env = dict(base_env)
        self._running: dict[int, ChildProcess] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        """Become a subreaper and collect exit statuses on SIGCHLD. Call inside the running loop."""
        self._loop = asyncio.get_running_loop()
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            log.warning("could not become a child subreaper (errno %s)", ctypes.get_errno())
        self._loop.add_signal_handler(signal.SIGCHLD, self._reap)

    def uninstall(self) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGCHLD)

    def spawn(self, spec: ChildSpec, sockets: Sequence[socket.socket] = ()) -> ChildProcess:
        """Start ``spec`` in a new session, ``sockets`` inherited (``ChildSpec.inherits_ports``). Raises OSError
        if the program cannot be executed."""
        assert self._loop is not None, "install() first"  # programming error, not user input
        read_end, write_end = os.pipe()
        user_kwargs: dict[str, object] = {}
        inherited = {LISTEN_FDS_ENV: ",".join(str(inherit.fileno()) for inherit in sockets)} if sockets else {}
        if spec.user and os.geteuid() == 0:
            entry = pwd.getpwnam(spec.user)
            user_kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        try:
            popen = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                cwd=spec.cwd or self.cwd,
                env={**self.base_env, **spec.env, **inherited},
                pass_fds=[inherit.fileno() for inherit in sockets],
                start_new_session=True,  # its own session and process group: pgid == pid
                **user_kwargs,  # type: ignore[call-overload]
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        child = ChildProcess(pid=popen.pid, exited=self._loop.create_future(), popen=popen)
        self._running[popen.pid] = child
        journal = JournalSink(journal_fields(self.journal_home, spec.name)) if self.journal_home else None
        self._follow_output(read_end, RotatingLog(self.logs_dir / f"{spec.name}.log", self.log_max_bytes,
                                                  self.log_backups, journal))
        self._reap()  # in case it already exited before we were tracking it
        return child

    def _follow_output(self, fd: int, sink: RotatingLog) -> None:
        assert self._loop is not None
        os.set_blocking(fd, False)

        def on_readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if data:
                sink.write(data)
                return
            self._loop.remove_reader(fd)  # type: ignore[union-attr]
            os.close(fd)
            sink.close()

        self._loop.add_reader(fd, on_readable)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self._running.pop(pid, None)
            if child is None:
                log.info("reaped orphaned descendant pid %d (%s)", pid, describe_exit(status))
                continue
            if child.popen is not None:
                child.popen.returncode = os.waitstatus_to_exitcode(status)
            if not child.exited.done():
                child.exited.set_result(status)

    @staticmethod
    def signal_group(pid: int, sig: int) -> None:
        """Send ``sig`` to the process group led by ``pid``; a group that is gone is fine."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def kill_orphans(self) -> list[int]:
        """SIGKILL every remaining descendant (re-parented orphans included). Returns their pids."""
        try:
            descendants = psutil.Process().children(recursive=True)
        except psutil.Error:
            return []
        for process in descendants:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return [process.pid for process in descendants]
