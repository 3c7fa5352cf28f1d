"""A real jupyter_server whose contents live in the appliance's storage (as user servers' will)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.harness import reserve_ports, stop_process

CONTENTS_MANAGER = "appliance.storage.routing.RoutingContentsManager"  # what hubs give members' servers


class UserServer:
    def __init__(self, storage_url: str, storage_token: str):
        self.port = reserve_ports(1)[0]
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="user-server-"))
        self.argv = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={self.port}",
            "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.workdir}",
            f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
            f"--RemoteContentsManager.storage_url={storage_url}",
            f"--RemoteContentsManager.storage_token={storage_token}",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log, stderr=log,
                                        env={**os.environ, "JUPYTER_CONFIG_DIR": str(self.workdir / "config")})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jupyter_server exited:\n{(self.workdir / 'server.log').read_text()[-3000:]}")
            try:
                if self.get("/api/status").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("jupyter_server did not answer")

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"token {self.token}"},
                             timeout=60, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def stop(self) -> None:
        stop_process(self.process)
