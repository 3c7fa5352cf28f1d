"""Sign-in to a usable JupyterLab and an idle kernel, in Chromium: the appliance against plain JupyterHub.

For each of N members, taking turns: the appliance's member signs in on the portal's sign-in page and lands
on the Research page (it starts their server through the portal, follows JupyterHub's progress events, then
shows JupyterLab in its frame); the plain JupyterHub's user (DummyAuthenticator, SimpleLocalProcessSpawner,
its own proxy, started in the same run) signs in on its /hub/login and follows its spawn-pending page into
JupyterLab. Each is timed from the click on "Sign in" to JupyterLab usable (its launcher visible) and to a new
notebook's kernel "Idle" (the launcher's Python 3 card), cold (a new member, no server yet) and warm (the same
member again in a fresh browser context, their server running). Prints p50 and max of each, the ratio
appliance / plain, and where the time goes: the phases as the browser sees them, from timestamps the pages
take themselves (an init script marks each document's load event and each progress event) and from
Playwright's request timings (the sign-in POST answered, JupyterLab asked for), all on the wall clock.
Prints figures only; asserts none.
Usage: .venv/bin/python bench/browser.py [--members N] [--hubs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, FrameLocator, Page, Request, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_jupyterhub import side_by_side  # noqa: E402

from tests.e2e.conftest import ARGS, CHROMIUM  # noqa: E402 - the browser the e2e tests drive
from tests.harness import Appliance  # noqa: E402
from tests.integration.oauth import add_user  # noqa: E402

WAIT_MS = 120_000
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Runs in every document of the context (the portal's pages, the hub's, JupyterLab, in frames too) before
# its own scripts: marks its load event and the progress events it receives, with the page's own clock.
MARKS = """(() => {
  const mark = (kind, detail) => window.benchMark(kind, detail, performance.timeOrigin + performance.now());
  window.addEventListener("load", () => mark("load", location.pathname));
  document.addEventListener("DOMContentLoaded", () => mark("parsed", location.pathname));
  const Native = window.EventSource;
  if (!Native) return;
  window.EventSource = class extends Native {
    constructor(url, options) {
      super(url, options);
      this.addEventListener("message", (event) => {
        let data = {};
        try { data = JSON.parse(event.data); } catch (error) { return; }
        mark(data.ready ? "ready" : data.failed ? "failed" : data.waiting ? "waiting" : "progress", location.pathname);
      });
    }
  };
})();"""
# (phase, the step it ends at), each timed from the previous step the same run saw (the first: from the click).
# The Research page sends its frame towards JupyterLab as soon as its script runs; when the server is not
# running (cold) it calls the frame back, signs in to the hub, starts the server, then asks again.
APPLIANCE_COLD_PHASES = [("sign-in POST answered (the password checked)", "signed in"),
                         ("Research page parsed", "page"),
                         ("signed in to the hub in the frame (its OAuth callback answered)", "hub sign-in"),
                         ("progress events start", "progress"), ("server ready", "ready"),
                         ("JupyterLab asked for in the frame", "lab asked"),
                         ("JupyterLab page loaded in the frame", "lab page"), ("launcher visible", "usable"),
                         ("new notebook's kernel idle", "kernel idle")]
APPLIANCE_WARM_PHASES = [("sign-in POST answered (the password checked)", "signed in"),
                         ("Research page parsed", "page"),
                         ("JupyterLab asked for in the frame (the page's script)", "lab asked"),
                         ("signed in to the hub on the way (its OAuth callback answered)", "hub sign-in"),
                         ("JupyterLab page loaded in the frame", "lab page"), ("launcher visible", "usable"),
                         ("new notebook's kernel idle", "kernel idle")]
PLAIN_PHASES = [("sign-in POST answered (DummyAuthenticator: no password)", "signed in"),
                ("spawn-pending page loaded", "page"), ("progress events start", "progress"),
                ("server ready", "ready"), ("JupyterLab asked for", "lab asked"),
                ("JupyterLab page loaded", "lab page"), ("launcher visible", "usable"),
                ("new notebook's kernel idle", "kernel idle")]


@dataclass
class Run:
    """One sign-in: when it was submitted, and when each step was seen (wall clock, ms)."""

    username: str
    submitted_ms: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)

    def mark(self, kind: str, path: str, at_ms: float) -> None:
        step = self.step_of(kind, path)
        if step and at_ms >= self.submitted_ms:
            if step == "lab asked" and path.endswith("/hub/user-redirect/lab"):
                self.seen[step] = at_ms  # the Research page's last ask (a cold one's first was called back)
            else:
                self.seen.setdefault(step, at_ms)  # the first time each step is seen

    def step_of(self, kind: str, path: str) -> str | None:
        if kind in ("progress", "ready", "failed"):
            return kind
        if kind == "answered" and path.endswith("/login"):
            return "signed in"
        if kind == "answered" and path.endswith("/hub/oauth_callback"):
            return "hub sign-in"
        if kind == "parsed" and path == "/research":
            return "page"
        if kind == "request" and (path.endswith("/hub/user-redirect/lab") or path in (
                f"/user/{self.username}/", f"/user/{self.username}/lab")):
            return "lab asked"
        if kind != "load":
            return None
        if "/hub/spawn-pending/" in path:
            return "page"
        if path.endswith(f"/user/{self.username}/lab"):
            return "lab page"
        return None

    def requested(self, request: Request) -> None:
        """A request the page (or its frame) sent: when it was sent, and when a POST was answered."""
        path, timing = urlsplit(request.url).path, request.timing
        self.mark("request", path, timing["startTime"])
        if request.method == "POST" or path.endswith("/hub/oauth_callback"):
            self.mark("answered", path, timing["startTime"] + timing["responseEnd"])

    def now(self, step: str) -> None:
        self.seen[step] = time.time() * 1000

    def seconds(self, step: str, since: str = "") -> float | None:
        """From the click on Sign in (or from step ``since``) to ``step``."""
        start = self.seen.get(since) if since else self.submitted_ms
        return (self.seen[step] - start) / 1000 if step in self.seen and start is not None else None


def use_jupyterlab(run: Run, lab: Page | FrameLocator) -> None:
    """Wait for JupyterLab's main area (its launcher; in a warm run, the notebook it restores from the last
    one), open a new Python notebook from a launcher and wait for that notebook's kernel to be idle."""
    launcher, notebooks = lab.locator(".jp-Launcher"), lab.locator(".jp-NotebookPanel")
    expect(lab.locator(".jp-Launcher, .jp-NotebookPanel").first).to_be_visible(timeout=WAIT_MS)
    run.now("usable")
    if not launcher.is_visible():
        lab.locator("#jp-main-dock-panel .lm-TabBar-addButton").first.click()  # "New Launcher"
    opened = notebooks.count()
    launcher.locator(".jp-LauncherCard[title='Python 3 (ipykernel)']").first.click(timeout=WAIT_MS)
    expect(notebooks).to_have_count(opened + 1)  # the new one is current: the status bar shows its kernel
    expect(lab.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=WAIT_MS)
    run.now("kernel idle")


def close_all_tabs(page: Page, lab: Page | FrameLocator) -> None:
    """File → Close All Tabs, and wait for JupyterLab to save its workspace (a launcher only): the next
    sign-in's JupyterLab opens on its launcher again, with no notebook to restore and no kernel to choose."""
    lab.locator(".lm-MenuBar-item", has_text="File").click()
    with page.expect_response(lambda answer: "/lab/api/workspaces" in answer.url and answer.request.method == "PUT",
                              timeout=WAIT_MS):
        lab.locator(".lm-Menu-item[data-command='application:close-all']").click()


def signed_in(browser: Browser, run: Run, sign_in: Callable[[Page], None]) -> Page:
    """A fresh context whose documents report their marks to ``run``; ``sign_in`` fills the form and clicks."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.expose_function("benchMark", run.mark)
    context.add_init_script(MARKS)
    page = context.new_page()
    page.on("requestfinished", run.requested)
    try:
        sign_in(page)
    except Exception:
        shot = ARTIFACTS / f"bench-browser-{run.username}-failed.png"
        page.screenshot(path=str(shot))
        print(f"{run.username}: the page when it failed is {shot}; steps seen {run.seen}", file=sys.stderr)
        raise
    if "failed" in run.seen:
        raise RuntimeError(f"{run.username}'s server failed to start")
    return page


def appliance_run(browser: Browser, appliance: Appliance, username: str, password: str) -> Run:
    run = Run(username)

    def sign_in(page: Page) -> None:
        page.goto(f"{appliance.public_portal_url}/login?next=/research")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        run.submitted_ms = time.time() * 1000
        page.get_by_role("button", name="Sign in").click()
        use_jupyterlab(run, page.frame_locator("#lab"))
        close_all_tabs(page, page.frame_locator("#lab"))

    signed_in(browser, run, sign_in).context.close()
    return run


def plain_run(browser: Browser, url: str, username: str) -> Run:
    run = Run(username)

    def sign_in(page: Page) -> None:
        page.goto(f"{url}/hub/login")
        page.locator("#username_input").fill(username)
        page.locator("#password_input").fill("any")
        run.submitted_ms = time.time() * 1000
        page.locator("#login_submit").click()
        use_jupyterlab(run, page)
        close_all_tabs(page, page)

    signed_in(browser, run, sign_in).context.close()
    return run


def figure(runs: list[Run], step: str, since: str = "") -> tuple[float, float] | None:
    """(p50, max) in seconds from sign-in (or from ``since``) to ``step``, over the runs that saw it."""
    values = [value for run in runs if (value := run.seconds(step, since)) is not None]
    return (statistics.median(values), max(values)) if values else None


def show(value: tuple[float, float] | None) -> str:
    return f"{value[0]:6.2f} / {value[1]:6.2f}" if value else f"{'—':>15}"


def phases(runs: list[Run], named: list[tuple[str, str]]) -> list[str]:
    """Each phase's p50 (seconds from the previous step the same run saw) and how many runs saw it."""
    lines = []
    for label, step in named:
        spans = []
        for run in runs:
            before = [run.seen[s] for _, s in named[:named.index((label, step))] if s in run.seen]
            if step in run.seen:
                # a redirect's next request starts as its answer ends: a span of -0.0 s is 0
                spans.append(max(0.0, (run.seen[step] - (before[-1] if before else run.submitted_ms)) / 1000))
        if spans:
            lines.append(f"    {label:<58} {statistics.median(spans):6.2f} s  (max {max(spans):5.2f}, "
                         f"{len(spans)} of {len(runs)})")
    return lines


def report(members: int, chromium: str, runs: dict[tuple[str, str], list[Run]]) -> None:
    print(f"Chromium {chromium}: sign-in → JupyterLab usable → kernel idle, {members} members each; "
          "seconds from the click on Sign in, p50 / max")
    print(f"  {'':<31}{'appliance':>15}   {'plain JupyterHub':>15}   ratio (p50)")
    for temperature in ("cold", "warm"):
        for step, since, label in (("usable", "", "usable"), ("kernel idle", "", "kernel idle"),
                                   ("usable", "signed in", "usable after sign-in POST")):
            ours = figure(runs["appliance", temperature], step, since)
            theirs = figure(runs["plain", temperature], step, since)
            ratio = f"{ours[0] / theirs[0]:5.2f}×" if ours and theirs else "—"
            print(f"  {temperature + ' ' + label:<31}{show(ours)}   {show(theirs)}   {ratio}")
    print("where the time goes: p50 of each phase, from the previous step the run saw (the first: from the click)")
    for temperature in ("cold", "warm"):
        named = APPLIANCE_COLD_PHASES if temperature == "cold" else APPLIANCE_WARM_PHASES
        print(f"  appliance, {temperature}:", *phases(runs["appliance", temperature], named), sep="\n")
        print(f"  plain JupyterHub, {temperature}:", *phases(runs["plain", temperature], PLAIN_PHASES), sep="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3, help="members signed in on each side (cold, then warm)")
    parser.add_argument("--hubs", type=int, default=2, help="the appliance's hubs (its default is 2)")
    args = parser.parse_args()
    runs: dict[tuple[str, str], list[Run]] = {(side, temperature): [] for side in ("appliance", "plain")
                                              for temperature in ("cold", "warm")}
    with side_by_side(hubs=args.hubs) as (appliance, url), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for index in range(args.members):  # taking turns: this machine's speed drifts
                name = f"member{index}"
                password = add_user(appliance, name)
                for temperature in ("cold", "warm"):
                    runs["appliance", temperature].append(appliance_run(browser, appliance, name, password))
                    runs["plain", temperature].append(plain_run(browser, url, f"plain{index}"))
            report(args.members, browser.version, runs)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
