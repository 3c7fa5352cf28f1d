"""A member saving notebooks through their hub-spawned JupyterLab all along, as JupyterLab's autosave does,
and what they were told: the fault suite's witness. Saves cycle over a few paths; each carries a token of
its own in its one cell, so what the storage returns afterwards says which save it holds."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.integration.lab import MemberServer
from tests.integration.storage_client import StorageCaller

PATHS = 6
REPORT_TO = "APPLIANCE_FAULT_REPORT"
# members saving at once in each fault: 1 in the README's test command; the closing notes' bigger setting sets
# more (APPLIANCE_FAULT_MEMBERS=20 pytest tests/faults)
MEMBERS = int(os.environ.get("APPLIANCE_FAULT_MEMBERS", "1"))
PAUSE_S = 0.05
SAVE_TIMEOUT_S = 30  # a save that takes longer is a hang


@dataclass
class Save:
    path: str
    token: str
    began: float
    took_s: float
    status: int  # 0: no answer (the connection failed, or SAVE_TIMEOUT_S passed)
    message: str

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


class Saver:
    def __init__(self, server: MemberServer):
        self.server = server
        self.prefix = f"journal-{uuid.uuid4().hex[:6]}"  # files of its own: an earlier saver's are not its to check
        self.saves: list[Save] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="saver", daemon=True)

    def __enter__(self) -> Saver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(SAVE_TIMEOUT_S + 5)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            path, token = f"{self.prefix}-{number % PATHS}.ipynb", uuid.uuid4().hex
            began = time.monotonic()
            try:
                answer = self.server.browser.put(
                    f"{self.server.url}/api/contents/{path}", headers={"X-XSRFToken": self.server.xsrf},
                    json={"type": "notebook", "content": notebook(token)}, timeout=SAVE_TIMEOUT_S)
                status, message = answer.status_code, message_of(answer)
            except httpx.HTTPError as error:
                status, message = 0, f"{type(error).__name__}: {error}"
            self.saves.append(Save(path, token, began, time.monotonic() - began, status, message))
            number += 1
            self._stop.wait(PAUSE_S)

    def _wait_for_a_run(self, count: int, acknowledged: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        start = len(self.saves)
        while True:
            recent = self.saves[start:]
            if len(recent) >= count and all(save.acknowledged == acknowledged for save in recent[-count:]):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no run of {count} saves {'working' if acknowledged else 'failing'} in "
                                     f"{timeout} s: {[s.status for s in recent[-10:]]}, "
                                     f"{recent[-1].message if recent else 'no save answered'}")
            time.sleep(0.05)

    def failures(self) -> list[Save]:
        return [save for save in self.saves if not save.acknowledged]

    def lost_and_corrupted(self, storage: StorageCaller) -> tuple[list[str], list[str]]:
        """Paths whose stored notebook is not the last acknowledged save of it (nor a later save the member
        was not told succeeded), and paths whose stored notebook does not parse."""
        lost, corrupted = [], []
        for path in sorted({save.path for save in self.saves}):
            attempts = [save for save in self.saves if save.path == path]
            acked = [n for n, save in enumerate(attempts) if save.acknowledged]
            may_hold = {save.token for save in attempts[acked[-1]:]} if acked else {s.token for s in attempts}
            stored = storage.read(path)
            if stored.status_code == 404 and not acked:
                continue
            try:
                token = "".join(json.loads(stored.content)["cells"][0]["source"])
            except (ValueError, KeyError, IndexError, TypeError):
                corrupted.append(f"{path}: {stored.status_code} {stored.content[:200]!r}")
                continue
            if token not in may_hold:
                lost.append(f"{path}: holds {token}, not its last acknowledged save")
        return lost, corrupted


class Savers:
    """A Saver for each of several members, all saving at once: the fault suite under load."""

    def __init__(self, servers: list[MemberServer]):
        self.each = [Saver(server) for server in servers]

    def __enter__(self) -> Savers:
        for saver in self.each:
            saver.__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        for saver in self.each:
            saver._stop.set()
        for saver in self.each:
            saver.__exit__()

    @property
    def saves(self) -> list[Save]:
        return [save for saver in self.each for save in saver.saves]

    def wait_for_saves(self, count: int, timeout: float = 30) -> None:
        """Until each member saw ``count`` more saves in a row acknowledged (one deadline for them all)."""
        self._wait_for_runs(count, acknowledged=True, timeout=timeout)

    def wait_for_failures(self, count: int, timeout: float = 30) -> None:
        """Until each member saw ``count`` more saves in a row fail (one deadline for them all)."""
        self._wait_for_runs(count, acknowledged=False, timeout=timeout)

    def _wait_for_runs(self, count: int, acknowledged: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for saver in self.each:
            saver._wait_for_a_run(count, acknowledged, timeout=max(0.1, deadline - time.monotonic()))

    def failures(self) -> list[Save]:
        return [save for saver in self.each for save in saver.failures()]

    def report(self, fault: str) -> None:
        """The figures the closing notes quote (pytest -s shows them): saves and failures summed over the members,
        the error window from the first failure's start to the last one's answer, whoever saw them. With
        APPLIANCE_FAULT_REPORT set, also a line of JSON appended to that file (bench/report.py draws from it)."""
        saves, failed = self.saves, sorted(self.failures(), key=lambda save: save.began)
        window_s = max(save.began + save.took_s for save in failed) - failed[0].began if failed else 0.0
        answers = sorted({(save.status, save.message[:80]) for save in failed})
        slowest = max((save.took_s for save in saves), default=0.0)
        members = len(self.each)
        print(f"\n{fault} ({members} member{'s' if members > 1 else ''} saving): {len(failed)} of {len(saves)} "
              f"saves failed, for {window_s:.2f} s; slowest answer {slowest:.2f} s; answers while it lasted: {answers}")
        if os.environ.get(REPORT_TO):
            with open(os.environ[REPORT_TO], "a") as out:
                out.write(json.dumps({"fault": fault, "members": members, "saves": len(saves), "failed": len(failed),
                                      "window_s": window_s, "slowest_s": slowest, "answers": answers}) + "\n")

    def lost_and_corrupted(self, storage_of: Callable[[str], StorageCaller]) -> tuple[list[str], list[str]]:
        lost, corrupted = [], []
        for saver in self.each:
            own_lost, own_corrupted = saver.lost_and_corrupted(storage_of(saver.server.name))
            lost += [f"{saver.server.name}: {line}" for line in own_lost]
            corrupted += [f"{saver.server.name}: {line}" for line in own_corrupted]
        return lost, corrupted


def notebook(token: str) -> dict[str, object]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "id": token[:8], "source": token, "metadata": {}, "outputs": [],
                       "execution_count": None}]}


def message_of(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("message", ""))
    except ValueError:
        return answer.text[:200]
