"""hubs.spawner = "kubernetes" as far as it runs without a cluster (none can run on these machines): the appliance's
hub process takes the configuration, says it spawns with Kubernetes, reaches for the cluster the kubeconfig names,
and a member whose server cannot start there is told why on the Research page's progress."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import Member, research_csrf, research_state
from tests.integration.oauth import log_in_through_hub

NODE_ADDRESS = "127.0.0.2"  # the machine's private address, which pods would reach the hub and storage at


@pytest.fixture(scope="module")
def cluster_api() -> Iterator[str]:
    """Where the kubeconfig says the cluster's API is: a port held for the module and never listened on, so that
    connections to it are refused (a port merely free could be another process's meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(scope="module")
def lab(cluster_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab",
                      "cluster": {"server": f"https://{cluster_api}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "hubs", "user": {"token": "hubs-token"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "hubs"}}]}))
    yield from running(hubs=1, APPLIANCE_HUBS_SPAWNER="kubernetes", APPLIANCE_NODES_ADDRESS=NODE_ADDRESS,
                       APPLIANCE_KUBERNETES_IMAGE="registry.lab.test/appliance-server:0.1.0",
                       APPLIANCE_KUBERNETES_KUBECONFIG=str(kubeconfig))


def progress_until_over(member: Member, timeout_s: float = 90) -> list[dict[str, object]]:
    """The start's progress events as the Research page follows them: it asks again while the stream only says
    to wait, until an event says the start failed or is ready."""
    events: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with member.portal.http.stream("GET", "/api/research/v1/server/progress", timeout=timeout_s) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line.removeprefix("data:")))
                    if events[-1].get("failed") or events[-1].get("ready"):
                        return events
        time.sleep(0.5)
    return events


def test_the_hub_spawns_with_kubernetes_and_a_member_is_told_when_the_cluster_does_not_answer(
        lab: Appliance, cluster_api: str) -> None:
    listed = lab.cli("hubs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [hub] = json.loads(listed.stdout)
    assert (hub["spawner"], hub["isolation"]) == ("kubernetes", "kubernetes")

    member = Member.new(lab, "grace")
    log_in_through_hub(lab, f"{lab.proxy_url}/hubs/{member.hub_id()}", member.name, member.password)  # as the page does
    for attempt in ("first", "again"):  # a second start is told too: the hub is not stuck on the first's watch
        started = member.portal.http.post("/api/research/v1/server/start",
                                          headers={"X-CSRF-Token": research_csrf(member)})
        assert started.status_code in (200, 202) and started.json()["state"] == "starting", (attempt, started.text)
        events = progress_until_over(member)
        hub_log = lab.home / "logs" / "hub-1.log"
        assert events and events[-1].get("failed"), (attempt, events, hub_log.read_text()[-3000:])
        said = str(events[-1]["message"])
        # refused at once, the start says which cluster did not answer and where the hubs are told of it
        assert f"The lab's Kubernetes cluster did not answer at https://{cluster_api}" in said, (attempt, said)
        assert "kubernetes.kubeconfig" in said, said
        assert research_state(member) == "stopped"
