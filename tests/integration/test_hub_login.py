"""A real JupyterHub (GenericOAuthenticator, behind the real proxy) logs people in through the portal."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import Appliance
from tests.integration.hub import Hub
from tests.integration.oauth import add_user, log_in_through_hub


@pytest.fixture(scope="module")
def hub(running_appliance: Appliance) -> Iterator[Hub]:
    with tempfile.TemporaryDirectory(prefix="hub-") as workdir:
        handle = Hub(running_appliance, Path(workdir))
        try:
            handle.start()
            yield handle
        finally:
            handle.stop()


def log_in_through_the_hub(hub: Hub, username: str, password: str) -> httpx.Response:
    return log_in_through_hub(hub.appliance, hub.url, username, password)


def test_hub_learns_name_groups_and_admin_flag(running_appliance: Appliance, hub: Hub) -> None:
    password = add_user(running_appliance, "alice", "--name", "Alice", "--group", "physics", "--group", "ml")
    response = log_in_through_the_hub(hub, "alice", password)
    assert response.status_code == 302 and "/hub/" in response.headers["location"]
    user = hub.user("alice").json()
    assert user["name"] == "alice" and user["admin"] is False
    assert sorted(user["groups"]) == ["ml", "physics"]

    admin_password = add_user(running_appliance, "bob", "--admin", "--group", "staff")
    log_in_through_the_hub(hub, "bob", admin_password)
    bob = hub.user("bob").json()
    assert bob["admin"] is True and bob["groups"] == ["staff"]


def test_group_and_admin_changes_reach_the_hub_at_next_login(running_appliance: Appliance, hub: Hub) -> None:
    password = add_user(running_appliance, "carol", "--group", "chem")
    log_in_through_the_hub(hub, "carol", password)
    assert hub.user("carol").json()["admin"] is False
    assert running_appliance.cli("users", "make-admin", "carol").returncode == 0
    assert running_appliance.cli("users", "groups", "carol", "--add", "bio", "--remove", "chem").returncode == 0
    log_in_through_the_hub(hub, "carol", password)
    carol = hub.user("carol").json()
    assert carol["admin"] is True and carol["groups"] == ["bio"]


def test_disabled_user_is_refused(running_appliance: Appliance, hub: Hub) -> None:
    password = add_user(running_appliance, "dave")
    assert running_appliance.cli("users", "disable", "dave").returncode == 0
    response = log_in_through_the_hub(hub, "dave", password)
    assert response.status_code == 401 and "This account is disabled" in response.text
    assert hub.user("dave").status_code == 404  # the hub never heard of dave
