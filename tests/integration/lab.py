"""A member of the lab and their JupyterLab servers on the appliance's hubs: a new account signed in at
the portal, a server started through a hub as a browser would, and all servers found as processes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import psutil
import websocket

from tests.harness import Appliance
from tests.integration.oauth import Browser, add_user, browser_client, follow, log_in_through_hub


@dataclass
class Member:
    name: str
    password: str
    portal: Browser  # signed in at the portal

    @classmethod
    def new(cls, appliance: Appliance, name: str, groups: tuple[str, ...] = ()) -> Member:
        """A new account in ``groups``, signed in at the portal (Browser.close_all() closes its client)."""
        password = add_user(appliance, name, *(f"--group={group}" for group in groups))
        portal = Browser(appliance)
        portal.sign_in(name, password)
        return cls(name, password, portal)

    def hub_id(self) -> str:
        """The hub discovery places the member on (placing them at the first ask)."""
        hub: str = self.portal.http.get("/api/discovery/v1/me").json()["hub"]
        return hub


def join_command(portal: Appliance) -> tuple[str, str]:
    """(portal URL, join token) of the command `appliance nodes token` prints."""
    made = portal.cli("nodes", "token")
    assert made.returncode == 0, made.stderr
    found = re.search(r"appliance join (\S+) --token (\S+)", made.stdout)
    assert found is not None, made.stdout
    return found[1], found[2]


def join_token(portal: Appliance, node_address: str = "") -> str:
    """A join token made by `appliance nodes token`, whose printed command names the portal as nodes reach it: at
    ``node_address`` (its nodes.address), else on loopback."""
    url, token = join_command(portal)
    assert url == (f"http://{node_address}:{portal.portal_port}" if node_address else portal.portal_url)
    return token


def server_log(appliance: Appliance, name: str) -> Path:
    """Where the local spawner writes the member's server's output."""
    return appliance.home / "logs" / "members" / f"{name}.log"


def start_server(appliance: Appliance, hub_url: str, name: str, password: str, browser: httpx.Client) -> httpx.Response:
    """Sign in through the hub and follow its spawn to the member's JupyterLab."""
    log_in_through_hub(appliance, hub_url, name, password, browser)
    landed = follow(browser, f"{hub_url}/hub/spawn")
    hub_log = appliance.home / "logs" / f"hub-{hub_url.rsplit('/', 1)[-1]}.log"
    output = server_log(appliance, name)
    assert landed.status_code == 200 and urlsplit(str(landed.url)).path.endswith(f"/user/{name}/lab"), (
        landed.url, landed.text[:2000], hub_log.read_text()[-4000:] if hub_log.exists() else "",
        output.read_text()[-4000:] if output.exists() else "")
    return landed


def server_url(landed: httpx.Response) -> str:
    """The member's server that ``landed`` (their JupyterLab page) came from: on a host of its own, or under
    the hub origin on a bare address."""
    return str(landed.url.copy_with(query=None)).removesuffix("/lab")


class MemberServer:
    """A new member's running JupyterLab, started through the hub discovery places them on, and the browser
    (cookie jar) that started it."""

    def __init__(self, appliance: Appliance, name: str):
        self.name = name
        self.member = member = Member.new(appliance, name)
        self.browser = browser_client()
        landed = start_server(appliance, f"{appliance.proxy_url}/hubs/{member.hub_id()}", name, member.password,
                              self.browser)
        self.url = server_url(landed)
        self.page = landed.text  # the JupyterLab page it landed on
        self.path = urlsplit(self.url).path
        # what JupyterLab sends: its _xsrf cookie as a header (API calls) or as ?_xsrf= (getDownloadUrl)
        self.xsrf = next(c.value for c in self.browser.cookies.jar
                         if c.name == "_xsrf" and self.path.startswith(c.path.rstrip("/")) and "/user/" in c.path) or ""

    def put(self, path: str, model: dict[str, object]) -> None:
        saved = self.browser.put(f"{self.url}/api/contents/{path}", headers={"X-XSRFToken": self.xsrf}, json=model)
        assert saved.status_code in (200, 201), saved.text


def wait_for(condition: object, timeout: float, what: str) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout``."""
    began = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - began < timeout, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - began


def user_servers(name: str) -> list[psutil.Process]:
    """The member's running JupyterLab servers, on any hub of this machine (not in the machines it runs: their
    processes are in this process table too, tests/machine.py)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if ("appliance.application.singleuser" in " ".join(process.info["cmdline"] or [])
                    and process.environ().get("JUPYTERHUB_USER") == name and process.status() != psutil.STATUS_ZOMBIE
                    and os.readlink(f"/proc/{process.pid}/root") == "/"):
                found.append(process)
        except (psutil.Error, OSError):  # ended while read
            continue
    return found


def server_hubs(name: str) -> list[str]:
    """The hubs the member's running servers belong to; a server ending while it is read is left out."""
    hubs = []
    for server in user_servers(name):
        try:
            hubs.append(server_hub(server))
        except psutil.Error:
            continue
    return hubs


def server_hub(server: psutil.Process) -> str:
    """The hub a user server belongs to, from its service prefix (/hubs/<id>/user/<name>/)."""
    return server.environ()["JUPYTERHUB_SERVICE_PREFIX"].split("/")[2]


def run_in_kernel(browser: httpx.Client, server_url: str, code: str, timeout: float = 60,
                  kernel_name: str = "python3") -> str:
    """Run ``code`` in a new kernel (``kernel_name``) of the member's server at ``server_url`` (``…/user/<name>``), as
    JupyterLab does: the browser's cookies, its ``_xsrf`` as a header, the kernel's websocket. Returns what
    the code printed (a traceback as text if it raised); the kernel is shut down after."""
    cookie = browser.build_request("GET", f"{server_url}/api/kernels").headers.get("cookie", "")
    xsrf = next((value for name, _, value in (part.strip().partition("=") for part in cookie.split(";"))
                 if name == "_xsrf"), "")
    started = browser.post(f"{server_url}/api/kernels", headers={"X-XSRFToken": xsrf}, json={"name": kernel_name})
    assert started.status_code == 201, started.text
    kernel = f"{server_url}/api/kernels/{started.json()['id']}"
    request_id = uuid.uuid4().hex
    socket = websocket.create_connection(f"ws{kernel.removeprefix('http')}/channels", header=[f"Cookie: {cookie}"],
                                         timeout=timeout)
    try:
        socket.send(json.dumps({
            "header": {"msg_id": request_id, "msg_type": "execute_request", "username": "", "version": "5.3",
                       "session": uuid.uuid4().hex},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False}}))
        printed: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(socket.recv())
            if message.get("parent_header", {}).get("msg_id") != request_id:
                continue
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                printed.append("\n".join(message["content"]["traceback"]))
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return "".join(printed)
        raise AssertionError(f"the kernel did not finish within {timeout} s; printed so far: {''.join(printed)}")
    finally:
        socket.close()
        browser.delete(kernel, headers={"X-XSRFToken": xsrf})


@contextlib.contextmanager
def hub_kept_down(appliance: Appliance, hub_id: str) -> Iterator[None]:
    """The hub killed, and its port taken until the block ends, so that the supervisor's restarts fail: a hub
    that stays down (one that comes back keeps its members, discovery.restart_grace_s). After the block its
    next restart succeeds (with the supervisor's back-off)."""
    component = appliance.component(f"hub-{hub_id}")
    port = int(component["address"].split("/")[0].rsplit(":", 1)[1])
    os.kill(component["pid"], signal.SIGKILL)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 10
    while True:  # free once the killed hub is gone; the restart binds it seconds later
        try:
            blocker.bind(("127.0.0.1", port))
            break
        except OSError:
            if time.monotonic() > deadline:
                blocker.close()
                raise
            time.sleep(0.02)
    blocker.listen()
    try:
        yield
    finally:
        blocker.close()


class SignedIn(Protocol):
    name: str
    portal: Browser


def research_state(member: SignedIn) -> str:
    """The member's server as the Research page learns it: running, starting, stopping or stopped."""
    answer = member.portal.http.get("/api/research/v1/server?memory=0")
    assert answer.status_code == 200, answer.text
    found: str = answer.json()["state"]
    return found


def research_csrf(member: SignedIn) -> str:
    page = member.portal.http.get("/research")
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def start_again(member: SignedIn) -> None:
    """What the Research page's Start button does, until the member's server runs."""
    started = member.portal.http.post("/api/research/v1/server/start",
                                      headers={"X-CSRF-Token": research_csrf(member)})
    assert started.status_code in (200, 202), started.text
    wait_for(lambda: research_state(member) == "running", 120, f"{member.name}'s new server to run")


def jupyterlab_answers(browser: httpx.Client, server: str) -> bool:
    """What JupyterLab asks its server every few seconds, answered."""
    return browser.get(f"{server}/api/status", timeout=5).status_code == 200


class Poller(threading.Thread):
    """Call ``attempt`` every ``every_s`` until stopped, noting whether each worked (an exception: it did not)."""

    def __init__(self, attempt: Callable[[], bool], every_s: float):
        super().__init__(daemon=True)
        self.attempt, self.every_s = attempt, every_s
        self.answers, self.stopping = list[bool](), threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.answers.append(self.attempt())
            except Exception:
                self.answers.append(False)
            time.sleep(self.every_s)

    def finish(self) -> list[bool]:
        self.stopping.set()
        self.join()
        return self.answers

    def failures_in_a_row(self) -> int:
        longest = run = 0
        for answered in self.answers:
            run = 0 if answered else run + 1
            longest = max(longest, run)
        return longest
