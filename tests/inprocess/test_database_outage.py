"""While the portal's database refuses connections, as during a PostgreSQL restart, every route of the portal
answers at once: with what it answers without the database, or a 503 that says the database is not
answering and to try again in a moment (Retry-After), never a 500 or a hang. Once the database is back,
the same member's requests work again, without a restart of the portal."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.harness import Appliance, mint_storage_token
from tests.inprocess.conftest import SessionCluster, portal_routes, serving
from tests.integration.oauth import add_user, browser_client, sign_in

ANSWER_WITHIN_S = 12  # the async pools' own wait for a connection is 10 s
BACK_WITHIN_S = 5
MESSAGE = "The database is not answering just now"


@pytest.fixture(scope="module")
def lab(postgres_cluster: SessionCluster) -> Iterator[Appliance]:
    with serving(postgres_cluster) as handle:
        yield handle


@pytest.fixture(scope="module")
def member(lab: Appliance) -> Iterator[httpx.Client]:
    portal, name = lab.public_portal_url, f"out{uuid.uuid4().hex[:6]}"
    client = browser_client(base_url=portal, headers={"Origin": portal})
    assert sign_in(client, portal, name, add_user(lab, name)).status_code == 303
    client.headers["Authorization"] = f"Bearer {mint_storage_token(lab, name)}"  # what the storage API reads
    yield client
    client.close()


def test_every_route_answers_at_once_and_clearly_while_the_database_refuses_connections(
        lab: Appliance, member: httpx.Client, postgres_cluster: SessionCluster) -> None:
    routes = portal_routes(lab)
    unavailable, unclear, slowest = [], [], 0.0
    with postgres_cluster.refusing(lab.database_url()):
        for method, path in routes:
            began = time.monotonic()
            answer = member.request(method, path, json={} if method in {"POST", "PUT", "PATCH"} else None)
            slowest = max(slowest, time.monotonic() - began)
            where = f"{method} {path} answered {answer.status_code}: {answer.text[:300]}"
            if path == "/api/status":  # the health report: it says what is down
                assert answer.status_code == 503 and answer.json()["database"]["ok"] is False, where
            elif answer.status_code >= 500:
                unclear += [] if clear_503(answer, path) else [where]
                unavailable.append(path)
    assert unclear == []
    print(f"{len(unavailable)} of {len(routes)} routes answered 503; the slowest answer took {slowest:.2f} s")
    assert slowest < ANSWER_WITHIN_S
    assert len(unavailable) >= 10, f"only {unavailable} needed the database: the walk asked too little"
    deadline = time.monotonic() + BACK_WITHIN_S
    while (answer := member.get("/api/storage/v1/list/")).status_code != 200:
        assert time.monotonic() < deadline, f"not back {BACK_WITHIN_S} s after the database: {answer.text[:300]}"
        time.sleep(0.1)
    assert member.get("/research").status_code == 200


def clear_503(answer: httpx.Response, path: str) -> bool:
    if answer.status_code != 503 or MESSAGE not in answer.text or answer.headers.get("retry-after") != "2":
        return False
    return not path.startswith("/api/") or answer.json()["status"] == 503
