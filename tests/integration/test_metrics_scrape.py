"""A scrape as Prometheus makes it, through the front proxy of a running appliance: every metric docs/metrics.md
names, the supervisor's components with their states and restarts (read from its control socket) among them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from appliance.home import Home
from appliance.metrics import TOKEN_SECRET
from tests.harness import Appliance
from tests.integration.storage_client import StorageCaller, mint, new_member
from tests.metrics_docs import DOCUMENTED


def test_a_scrape_through_the_front_proxy_has_every_component_healthy_and_its_restarts(
        running_lab: Appliance) -> None:
    token = Home(running_lab.home).secret(TOKEN_SECRET)
    member = new_member()
    StorageCaller(running_lab, mint(running_lab, member)).write("scraped.txt", b"1")
    assert httpx.get(f"{running_lab.public_portal_url}/metrics", timeout=10).status_code == 401
    answer = httpx.get(f"{running_lab.public_portal_url}/metrics", timeout=10,
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(answer.text) for sample in family.samples}
    names = {name for name, _ in samples}
    assert all(documented in names or f"{documented}_count" in names for documented in DOCUMENTED), names
    assert samples[("appliance_supervisor_up", ())] == 1
    healthy = {dict(labels)["component"] for (name, labels), value in samples.items()
               if name == "appliance_component_state" and dict(labels)["state"] == "healthy" and value == 1}
    assert {"postgres", "portal", "proxy", "renderer"} <= healthy, samples
    assert samples[("appliance_component_restarts_total", (("component", "portal"),))] == 0


def test_each_hubs_own_metrics_are_scraped_through_the_portal_with_the_same_token(running_lab: Appliance) -> None:
    portal = running_lab.public_portal_url
    bearer = {"Authorization": f"Bearer {Home(running_lab.home).secret(TOKEN_SECRET)}"}
    for hub_id in ("1", "2"):
        answer = httpx.get(f"{portal}/metrics/hubs/{hub_id}", headers=bearer, timeout=10)
        assert answer.status_code == 200, answer.text
        names = {family.name for family in text_string_to_metric_families(answer.text)}
        assert {"jupyterhub_running_servers", "jupyterhub_total_users"} <= names, names
    assert httpx.get(f"{portal}/metrics/hubs/1", timeout=10).status_code == 401
    missing = httpx.get(f"{portal}/metrics/hubs/9", headers=bearer, timeout=10)
    assert missing.status_code == 404 and "appliance hubs list" in missing.text
    # the hub's own endpoint, through the front proxy, is no way around the token
    assert httpx.get(f"{running_lab.proxy_url}/hubs/1/hub/metrics", timeout=10).status_code in (401, 403)
