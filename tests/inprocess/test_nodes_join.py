"""The join API of the running portal (on an external PostgreSQL, as this tier's portal is): a join token from
`appliance nodes token` lets one machine join once; what it gets is what its hubs need, no more; every malformed
request, and every token that is unknown, used or expired, is refused with what to do and spends nothing."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from appliance.discovery.service import hub_credentials
from appliance.home import Home
from appliance.nodes import NodeDirectory
from appliance.nodes.directory import digest
from tests.harness import Appliance
from tests.inprocess.conftest import SessionCluster
from tests.integration.lab import join_token

JOIN = "/api/nodes/v1/join"



def join(portal: Appliance, **fields: Any) -> httpx.Response:
    body = {"name": f"node-{secrets.token_hex(3)}", "address": "10.0.0.6", "proxy_port": 8000,
            "first_api_port": 8010, "hub_count": 2, **fields}
    return httpx.post(portal.portal_url + JOIN, json=body, timeout=30)


@pytest.fixture(scope="module", autouse=True)
def hub_databases(postgres_cluster: SessionCluster) -> None:
    """Two hubs' databases for each of the first nodes, made by the lab's database administrator: this tier's role
    may not create databases (an external server's usual grant)."""
    postgres_cluster.hub_databases(*(f"hub_{node}0{hub}" for node in range(1, 6) for hub in (1, 2)))


def unspent(portal: Appliance, token: str) -> bool:
    engine = create_engine(portal.database_url())
    with engine.connect() as connection:
        used = connection.execute(text("SELECT used_at FROM nodes.join_tokens WHERE digest = :digest"),
                                  {"digest": digest(token)}).one()
    engine.dispose()
    return used.used_at is None


def register(portal: Appliance, hub_id: str) -> httpx.Response:
    credential = hub_credentials(Home(portal.home)).for_hub(hub_id)
    return httpx.post(f"{portal.portal_url}/api/discovery/v1/hubs/{hub_id}/register", json={}, timeout=30,
                      headers={"Authorization": f"Bearer {credential}"})


def forget_nodes(portal: Appliance) -> None:
    engine = create_engine(portal.database_url())
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM nodes.nodes"))
    engine.dispose()


def test_a_token_lets_one_machine_join_once_with_what_its_hubs_need(portal_in_process: Appliance,
                                                                    postgres_cluster: SessionCluster) -> None:
    portal = portal_in_process
    forget_nodes(portal)
    token = join_token(portal)
    # a third hub's database is missing, and the role may not make it: the administrator is given the SQL
    refused = join(portal, token=token, name="node-a", hub_count=3)
    assert refused.status_code == 409, refused.text
    statements = re.findall(r'CREATE DATABASE "hub_103" OWNER "\w+";', refused.json()["error"])
    assert statements, refused.json()["error"]
    assert unspent(portal, token)
    with postgres_cluster.superuser() as admin:
        admin.execute("DROP DATABASE IF EXISTS hub_103")
        admin.execute(statements[0])
    joined = join(portal, token=token, name="node-a", hub_count=3)
    assert joined.status_code == 200, joined.text
    answer = joined.json()
    hubs = answer["node"]["hubs"]
    assert answer["node"]["name"] == "node-a" and hubs == ["101", "102", "103"]
    settings = answer["settings"]
    assert settings["nodes.first_hub"] == "101" and settings["hubs.count"] == 3
    assert settings["postgres.url"] == portal.env["APPLIANCE_POSTGRES_URL"]  # an external server: the same role
    assert answer["postgres_ca"] == Path(portal.env["APPLIANCE_POSTGRES_CA_FILE"]).read_text()
    assert settings["portal.public_url"] == portal.public_portal_url
    credentials = hub_credentials(Home(portal.home))
    for hub_id in hubs:
        assert answer["secrets"][f"hub-{hub_id}-discovery-credential"] == credentials.for_hub(hub_id)
        assert answer["secrets"][f"hub-{hub_id}-oauth-secret"]
    # its hubs' secrets and the two every hub holds; not the discovery key, the proxy's token, the portal's own
    assert set(answer["secrets"]) == {*(f"hub-{h}-{kind}" for h in hubs for kind in ("discovery-credential",
                                                                                      "oauth-secret")),
                                      "hubs-portal-service-token", "storage-token-key"}
    engine = create_engine(portal.database_url())
    with engine.connect() as connection:
        callbacks = dict(connection.execute(text(
            "SELECT client_id, redirect_uris FROM identity.clients WHERE client_id = ANY(:ids)"),
            {"ids": [f"hub-{hub_id}" for hub_id in hubs]}).all())
        databases = {row[0] for row in connection.execute(text("SELECT datname FROM pg_database"))}
    engine.dispose()
    assert callbacks == {f"hub-{h}": [f"{portal.proxy_url}/hubs/{h}/hub/oauth_callback"] for h in hubs}
    assert {f"hub_{h}" for h in hubs} <= databases
    again = join(portal, token=token, name="node-b")
    assert again.status_code == 403 and "already used or has expired" in again.json()["error"]
    listed = json.loads(portal.cli("nodes", "list", "--json").stdout)
    assert [node["name"] for node in listed] == ["node-a"]
    forget_nodes(portal)


@pytest.mark.parametrize(("fields", "says"), [
    ({"token": ""}, "a join token is required"),
    ({"name": "Node_A!"}, "must be the machine's host name"),
    ({"address": "node-a.lab"}, "must be the IP address"),
    ({"proxy_port": 80}, "must be a TCP port from 1024 to 65535"),
    ({"first_api_port": "8010"}, "must be a TCP port"),
    ({"hub_count": 0}, "a node runs 1 to 64 hubs"),
    ({"hub_count": True}, "a node runs 1 to 64 hubs"),
])
def test_a_malformed_join_is_refused_and_spends_no_token(portal_in_process: Appliance, fields: dict[str, Any],
                                                         says: str) -> None:
    token = join_token(portal_in_process)
    refused = join(portal_in_process, **{"token": token, **fields})
    assert refused.status_code == 400 and says in refused.json()["error"], refused.text
    assert unspent(portal_in_process, token)


def test_bodies_that_are_not_a_small_json_object_are_refused(portal_in_process: Appliance) -> None:
    url = portal_in_process.portal_url + JOIN
    for body in (b"{", b"[1, 2]", b'"token"', json.dumps({"token": "x" * 10_000}).encode()):
        refused = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert refused.status_code == 400, refused.text
        assert "JSON object" in refused.json()["error"] or "bytes" in refused.json()["error"]
    assert httpx.get(url, timeout=30).status_code == 405


def test_unknown_and_expired_tokens_are_refused_and_a_taken_name_spends_nothing(portal_in_process: Appliance) -> None:
    portal = portal_in_process
    forget_nodes(portal)
    assert join(portal, token=secrets.token_urlsafe(32)).status_code == 403
    engine = create_engine(portal.database_url())
    expired = NodeDirectory(engine).new_token(lifetime_s=0)
    engine.dispose()
    refused = join(portal, token=expired)
    assert refused.status_code == 403 and "appliance nodes token" in refused.json()["error"]
    assert join(portal, token=join_token(portal), name="node-taken").status_code == 200
    token = join_token(portal)
    taken = join(portal, token=token, name="node-taken")
    assert taken.status_code == 409 and "appliance nodes remove node-taken" in taken.json()["error"]
    assert join(portal, token=token, name="node-other").status_code == 200  # the refusal spent nothing
    hub_id = "101"  # node-taken's first hub: it registers while the node is there, and not after
    assert register(portal, hub_id).status_code == 200
    removed = portal.cli("nodes", "remove", "node-taken")
    assert removed.returncode == 0, removed.stderr
    assert "hubs 101, 102 draining" in removed.stdout and "node node-taken removed" in removed.stdout
    assert register(portal, hub_id).status_code == 404
    assert [node["name"] for node in json.loads(portal.cli("nodes", "list", "--json").stdout)] == ["node-other"]
    forget_nodes(portal)
