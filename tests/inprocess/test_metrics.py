"""The portal's /metrics: refused without the metrics token, and with it every metric docs/metrics.md names, in
Prometheus' text format as prometheus-client's own parser reads it, counting what members did."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from appliance.home import Home
from appliance.metrics import TOKEN_SECRET
from tests.harness import Appliance
from tests.integration import gallery_data
from tests.integration.oauth import Browser, add_user
from tests.integration.storage_client import StorageCaller, mint, new_member
from tests.metrics_docs import DOCUMENTED


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


def scrape(portal: Appliance, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.get(f"{portal.portal_url}/metrics", headers=headers, timeout=10)


def metrics_token(portal: Appliance) -> str:
    return Home(portal.home).secret(TOKEN_SECRET)


def samples(portal: Appliance) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = scrape(portal, f"Bearer {metrics_token(portal)}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-token", "Bearer", "Basic {token}",
                                           "Bearer {token}x"])
def test_a_scrape_without_the_metrics_token_is_refused_and_told_where_it_is(portal_in_process: Appliance,
                                                                              authorization: str | None) -> None:
    sent = authorization.format(token=metrics_token(portal_in_process)) if authorization else None
    refused = scrape(portal_in_process, sent)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "secrets/metrics-token" in refused.text and "appliance_" not in refused.text


def test_every_documented_metric_is_scraped_and_counts_sign_ins_and_storage_calls(
        portal_in_process: Appliance) -> None:
    assert len(DOCUMENTED) == 10 and "appliance_component_state" in DOCUMENTED
    before = samples(portal_in_process)
    name = f"m{new_member()[:10]}"
    password = add_user(portal_in_process, name)
    Browser(portal_in_process).sign_in(name, password)
    Browser(portal_in_process).sign_in(name, "wrong password")
    member = new_member()
    StorageCaller(portal_in_process, mint(portal_in_process, member)).write("counted.txt", b"1")
    after = samples(portal_in_process)

    names = {sample_name for sample_name, _ in after}
    # a histogram's samples are <name>_bucket, _count, _sum; the components' need a supervisor
    # (tests/integration/test_metrics_scrape.py)
    for documented in (name for name in DOCUMENTED if not name.startswith("appliance_component_")):
        assert documented in names or f"{documented}_count" in names, documented
    for result, more in (("ok", 1), ("refused", 1), ("disabled", 0)):
        key = ("appliance_sign_ins_total", (("result", result),))
        assert after[key] - before.get(key, 0) == more, result
    writes = ("appliance_storage_operation_seconds_count", (("method", "PUT"), ("operation", "write")))
    assert after[writes] - before.get(writes, 0) >= 1
    assert after[("appliance_supervisor_up", ())] == 0  # this portal runs in the test, under no supervisor
    assert after[("appliance_render_queue_depth", ())] >= 0



def test_the_render_queue_and_render_times_are_read_from_the_database(portal_in_process: Appliance) -> None:
    """The renderer is a process of its own: what it recorded of each job is what a scrape of the portal shows."""
    engine = create_engine(portal_in_process.database_url())
    before = samples(portal_in_process)
    slug = gallery_data.publication(engine, author="ada", title="Timed")
    waiting = gallery_data.publication(engine, author="ada", title="Waiting", rendered=False)
    with engine.begin() as connection:
        connection.execute(text(
            "UPDATE gallery.render_jobs SET render_seconds = 3.5 WHERE version_id IN (SELECT v.id FROM "
            "gallery.versions v JOIN gallery.publications p ON p.id = v.publication_id WHERE p.slug = :slug)"),
            {"slug": slug})
    engine.dispose()
    after = samples(portal_in_process)

    def more(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0)

    assert waiting and more("appliance_render_queue_depth") == 1
    assert more("appliance_renders_total", result="done") == 1
    assert (more("appliance_render_seconds_bucket", le="2.0"), more("appliance_render_seconds_bucket", le="5.0"),
            more("appliance_render_seconds_bucket", le="+Inf")) == (0, 1, 1)
    assert more("appliance_render_seconds_count") == 1 and more("appliance_render_seconds_sum") == 3.5
