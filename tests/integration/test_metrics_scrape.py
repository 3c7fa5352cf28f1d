"""A scrape as Prometheus makes it, through the front proxy of a running appliance: every metric docs/metrics.md
names, the supervisor's components with their states and restarts (read from its control socket) among them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from appliance.home import Home
from appliance.metrics import TOKEN_SECRET
from tests.harness import Appliance
from tests.inprocess.test_metrics import DOCUMENTED
from tests.integration.storage_client import StorageCaller, mint, new_member


def test_a_scrape_through_the_front_proxy_has_every_component_healthy_and_its_restarts(
        running_appliance: Appliance) -> None:
    token = Home(running_appliance.home).secret(TOKEN_SECRET)
    member = new_member()
    StorageCaller(running_appliance, mint(running_appliance, member)).write("scraped.txt", b"1")
    assert httpx.get(f"{running_appliance.public_portal_url}/metrics", timeout=10).status_code == 401
    answer = httpx.get(f"{running_appliance.public_portal_url}/metrics", timeout=10,
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
