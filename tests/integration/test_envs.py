"""The members' shared environments through `appliance env`, seen from members' hub-spawned servers that were
running before the change: a package added is importable in each one's new kernels, a failed add changes
nothing, a named environment is a kernel for everyone, and no member can change what another's kernel runs."""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import MemberServer, run_in_kernel
from tests.integration.oauth import Browser, add_user

PACKAGE, VERSION = "tabulate", "0.9.0"  # small, pure Python, needed by nothing the kernel has
API = "/api/admin/v1"


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(scope="module")
def members(lab: Appliance) -> Iterator[list[MemberServer]]:
    """Two members with their JupyterLabs running, started before any environment exists."""
    servers = [MemberServer(lab, f"env{secrets.token_hex(3)}") for _ in range(2)]
    yield servers
    for server in servers:
        server.browser.close()
    Browser.close_all()


def env(lab: Appliance, *args: str) -> tuple[int, str]:
    result = lab.cli("env", *args, timeout=900)
    return result.returncode, result.stdout + result.stderr


def frozen(lab: Appliance, name: str = "default") -> str:
    result = lab.cli("env", "list", name, "--json")
    assert result.returncode == 0, result.stderr
    packages: list[dict[str, str]] = json.loads(result.stdout)[0]["packages"]
    return json.dumps(packages)


def test_a_package_added_reaches_every_members_new_kernels_and_a_failed_add_changes_nothing(
        lab: Appliance, members: list[MemberServer]) -> None:
    for member in members:  # the appliance's own Python until there is an environment
        assert run_in_kernel(member.browser, member.url, f"import importlib.util as u; print(u.find_spec({PACKAGE!r}))"
                             ).strip() == "None"

    code, said = env(lab, "add", f"{PACKAGE}=={VERSION}")
    assert code == 0, said
    assert "Installing tabulate==0.9.0 into default:" in said and f"Successfully installed {PACKAGE}-{VERSION}" in said
    for member in members:  # no restart: a new kernel reads the environment
        printed = run_in_kernel(member.browser, member.url, f"import sys, {PACKAGE}; print({PACKAGE}.__version__, "
                                "sys.prefix)")
        assert printed.split() == [VERSION, str(lab.home / "envs" / "default")], printed

    before = frozen(lab)
    missing = f"appliance-no-such-package-{secrets.token_hex(4)}"
    code, said = env(lab, "add", PACKAGE, missing)
    assert code == 1 and "the environment is as it was" in said and "No matching distribution" in said, said
    assert frozen(lab) == before

    # what a member's kernel runs is the appliance's: no member can change it for another
    printed = run_in_kernel(members[0].browser, members[0].url, f"""
import os, {PACKAGE}
for target in ({PACKAGE}.__file__, os.path.join(os.path.dirname({PACKAGE}.__file__), 'planted.py')):
    try:
        open(target, 'a').close()
        print('written', target)
    except OSError as error:
        print('refused', type(error).__name__)
""")
    assert printed.split() == ["refused", "PermissionError", "refused", "PermissionError"], printed


def test_a_named_environment_is_a_kernel_for_everyone_until_deleted(lab: Appliance,
                                                                    members: list[MemberServer]) -> None:
    code, said = env(lab, "create", "extra")
    assert code == 0, said
    assert "the kernel 'extra' is in every member's launcher now" in said
    for member in members:
        specs = member.browser.get(f"{member.url}/api/kernelspecs").json()["kernelspecs"]
        assert specs["extra"]["spec"]["display_name"] == "Python (extra)", specs
        printed = run_in_kernel(member.browser, member.url, "import sys; print(sys.prefix)", kernel_name="extra")
        assert printed.strip() == str(lab.home / "envs" / "extra")

    listed = lab.cli("env", "list", "--json")
    assert [e["name"] for e in json.loads(listed.stdout)] == ["default", "extra"]

    code, said = env(lab, "delete", "extra", "--yes")
    assert code == 0, said
    specs = members[0].browser.get(f"{members[0].url}/api/kernelspecs").json()["kernelspecs"]
    assert "extra" not in specs and "python3" in specs


@pytest.mark.parametrize(("args", "refusal"), [
    (["remove", "ipykernel"], "ipykernel cannot be removed"),
    (["remove", "no-such-package"], "no-such-package not installed in default"),
    (["add", "--", "-rhttps://example.org/x.txt"], "is not a package requirement"),
    (["add", "--env", "nowhere", "six"], "there is no environment nowhere"),
    (["create", "../up"], "is not an environment name"),
    (["create", "jupyter"], "is not an environment name"),
])
def test_bad_requests_are_refused_with_what_to_do(lab: Appliance, members: list[MemberServer], args: list[str],
                                                  refusal: str) -> None:
    code, said = env(lab, *args)
    assert code == 1 and refusal in said, said


def test_the_admin_console_changes_an_environment_as_a_job_with_progress(lab: Appliance,
                                                                        members: list[MemberServer]) -> None:
    admin = Browser(lab)
    admin.sign_in("softadmin", add_user(lab, "softadmin", "--admin"))
    page = admin.http.get("/admin/software")
    assert page.status_code == 200 and f"<th scope=\"row\">{PACKAGE}</th>" in page.text, page.text[:3000]
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found is not None
    headers = {"X-CSRF-Token": html.unescape(found[1])}

    started = admin.http.post(f"{API}/environments/default/packages/remove", headers=headers,
                              json={"packages": [PACKAGE]})
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    deadline = time.monotonic() + 300
    while job["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = admin.http.get(f"{API}/environments/jobs/{job['id']}").json()["job"]
    assert job["state"] == "succeeded", job
    assert f"Successfully uninstalled {PACKAGE}-{VERSION}" in [line.strip() for line in job["lines"]], job
    printed = run_in_kernel(members[1].browser, members[1].url, f"import {PACKAGE}")
    assert "ModuleNotFoundError" in printed, printed

    refusals: list[tuple[str, dict[str, Any], int, str]] = [
        ("/environments/default/packages", {"packages": "pandas"}, 400, "must be a list"),
        ("/environments/default/packages", {"packages": ["--index-url=https://evil.example/"]}, 400,
         "is not a package requirement"),
        ("/environments/nowhere/packages/remove", {"packages": ["six"]}, 202, ""),  # refused by the job: see below
        ("/environments", {"name": "../up"}, 400, "is not an environment name"),
    ]
    for path, body, status, message in refusals:
        answer = admin.http.post(API + path, headers=headers, json=body)
        assert answer.status_code == status and message in answer.text, (path, answer.text)
    failed = admin.http.get(f"{API}/environments").json()["jobs"][0]
    while failed["state"] == "running":
        time.sleep(0.2)
        failed = admin.http.get(f"{API}/environments/jobs/{failed['id']}").json()["job"]
    assert failed["state"] == "failed" and "there is no environment nowhere" in failed["error"], failed
    assert admin.http.post(f"{API}/environments/default/packages", json={"packages": ["six"]}).status_code == 403

    member = members[0].member.portal  # signed in at the portal, not an admin
    assert member.http.get("/admin/software").status_code == 403
    assert member.http.get(f"{API}/environments").status_code == 403

    audited = lab.cli("audit", "--json")
    actions = [event["action"] for event in json.loads(audited.stdout)]
    assert {"env.packages-added", "env.created", "env.deleted", "env.packages-removed", "env.change-failed"} <= set(
        actions), actions
