"""Hub nodes, on one machine: a second appliance home joins the portal's with a join token from `appliance nodes
token` and runs its own proxy and hubs (no portal, no PostgreSQL). The portal places members on the node's hub like
on its own, its front proxy sends that hub's path and its members' hosts to the node's proxy, a member's JupyterLab
there saves into the portal's database, a node that dies has its members moved, and `appliance nodes remove` drains
it. The two stand for machines on a private network by loopback addresses of their own (nodes.address): the portal's
127.0.0.2, where its embedded PostgreSQL serves the node over verified TLS, the node's 127.0.0.3."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
from collections.abc import Iterator

import psycopg
import pytest

from tests.harness import Appliance, make_home, reserve_ports, started
from tests.integration.conftest import running
from tests.integration.lab import (
    Member,
    join_token,
    run_in_kernel,
    server_hubs,
    server_url,
    start_server,
    user_servers,
    wait_for,
)
from tests.integration.oauth import browser_client

NODE_NAME = "node-a"
PORTAL_ADDRESS, NODE_ADDRESS = "127.0.0.2", "127.0.0.3"



@pytest.fixture(scope="module")
def portal() -> Iterator[Appliance]:
    yield from running(1, APPLIANCE_NODES_ADDRESS=PORTAL_ADDRESS,
                       APPLIANCE_DISCOVERY_HEARTBEAT_INTERVAL_S="0.3", APPLIANCE_DISCOVERY_SUSPECT_AFTER_S="1",
                       APPLIANCE_DISCOVERY_DEAD_AFTER_S="3", APPLIANCE_DISCOVERY_FENCE_AFTER="3")


def new_node(portal: Appliance, name: str = NODE_NAME) -> Appliance:
    node = Appliance(make_home(), reserve_ports(4)).with_hubs(1)
    joined = node.cli("join", nodes_url(portal), "--token", join_token(portal, PORTAL_ADDRESS), "--name", name,
                      "--address", NODE_ADDRESS)
    assert joined.returncode == 0, joined.stderr
    assert "Joined as node" in joined.stdout
    return node


@pytest.fixture(scope="module")
def node(portal: Appliance) -> Iterator[Appliance]:
    handle = new_node(portal)
    try:
        with started(handle):
            yield handle
    finally:
        shutil.rmtree(handle.home.parent, ignore_errors=True)


def nodes_url(portal: Appliance) -> str:
    return f"http://{PORTAL_ADDRESS}:{portal.portal_port}"


def node_hub(portal: Appliance) -> str:
    listed = portal.cli("nodes", "list")
    assert listed.returncode == 0, listed.stderr
    found = re.search(rf"{NODE_NAME}\s+\S+\s+\d+\s+(\d+)", listed.stdout)
    assert found is not None, listed.stdout
    return found[1]


def test_a_join_token_works_once_and_a_wrong_one_changes_nothing(portal: Appliance) -> None:
    token = join_token(portal, PORTAL_ADDRESS)
    first = Appliance(make_home(), reserve_ports(4)).with_hubs(1)
    again = Appliance(make_home(), reserve_ports(4)).with_hubs(1)
    try:
        assert first.cli("join", nodes_url(portal), "--token", token, "--name", "node-once").returncode == 0
        for handle, used in ((again, token), (again, secrets.token_urlsafe(32)), (again, "")):
            refused = handle.cli("join", nodes_url(portal), "--token", used, "--name", "node-twice")
            assert refused.returncode != 0
            assert "already used or has expired" in refused.stderr or "token is required" in refused.stderr, \
                refused.stderr
            assert not (handle.home / "appliance.toml").exists()  # nothing written
        taken = again.cli("join", nodes_url(portal), "--token", join_token(portal, PORTAL_ADDRESS), "--name",
                          "node-once")
        assert taken.returncode != 0 and "has joined already" in taken.stderr, taken.stderr
        assert "node-once" in portal.cli("nodes", "list").stdout
    finally:
        assert portal.cli("nodes", "remove", "node-once").returncode == 0
        for handle in (first, again):
            shutil.rmtree(handle.home.parent, ignore_errors=True)
    assert "node-once" not in portal.cli("nodes", "list").stdout


def test_a_member_on_the_nodes_hub_gets_jupyterlab_there_and_saves_into_the_portals_database(
        portal: Appliance, node: Appliance) -> None:
    hub_id = node_hub(portal)
    wait_for(lambda: any(hub["id"] == hub_id and hub["state"] == "routable" for hub in hubs_of(portal)), 30,
             "the node's hub registering with the portal")
    drained = portal.cli("hubs", "drain", "1")  # new members go to the node
    assert drained.returncode == 0, drained.stderr
    try:
        member = Member.new(portal, f"n{secrets.token_hex(4)}")
        assert member.hub_id() == hub_id
        with browser_client() as browser:
            landed = start_server(portal, f"{portal.proxy_url}/hubs/{hub_id}", member.name, member.password, browser)
            url = server_url(landed)
            assert url.startswith(f"http://{member.name}.hub.lab.localhost:{portal.proxy_port}/hubs/{hub_id}/")
            assert server_hubs(member.name) == [hub_id]
            (server,) = user_servers(member.name)
            assert server.environ()["APPLIANCE_SUPERVISED_BY"] == str(node.home)  # the node's, not the portal's
            xsrf = browser.cookies.get("_xsrf", domain=f"{member.name}.hub.lab.localhost") or ""
            saved = browser.put(f"{url}/api/contents/on-the-node.ipynb", headers={"X-XSRFToken": xsrf}, json={
                "type": "notebook", "format": "json", "content": {
                    "cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})
            assert saved.status_code == 201, saved.text
            # what the node holds for its hubs (the database role's password, the portal's service token, the
            # storage-token key) is out of a member's kernel's reach
            held = [node.home / "appliance.toml", node.home / "postgres-ca.pem",
                    *sorted((node.home / "secrets").iterdir())]
            tried = run_in_kernel(browser, url, "for path in %r:\n"
                                  "    try:\n        open(path).read(); print('READ', path)\n"
                                  "    except OSError as error:\n        print(type(error).__name__)"
                                  % [str(path) for path in held])
            assert "READ" not in tried and tried.split() == ["PermissionError"] * len(held), tried
        with psycopg.connect(portal.database_url().replace("+psycopg", "")) as connection:
            row = connection.execute(
                "SELECT count(*) FROM storage.files f JOIN storage.namespaces n ON n.id = f.namespace_id "
                "WHERE n.username = %s AND f.path = %s", (member.name, "on-the-node.ipynb")).fetchone()
            assert row == (1,)
            # the node's hub reaches the portal's database as a role of its own, over TLS (at the private address:
            # the node's configuration)
            links = connection.execute(
                "SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                "WHERE a.usename LIKE 'node\\_%'").fetchall()
        assert links and all(ssl for _, ssl in links), links
    finally:
        portal.cli("hubs", "undrain", "1")


def test_the_portals_database_serves_the_private_network_over_tls_and_never_to_its_superuser(
        portal: Appliance, node: Appliance) -> None:
    """(On one machine every connection comes from 127.0.0.1, which the loopback rules admit: the rules that the
    private network meets are read from the server; test_lab_machines.py connects from another machine.)"""
    config = (node.home / "appliance.toml").read_text()
    assert f"@{PORTAL_ADDRESS}:" in config and "postgres-ca.pem" in config
    with psycopg.connect(portal.database_url().replace("+psycopg", "")) as connection:
        rules = connection.execute("SELECT type, user_name, address, auth_method, error FROM pg_hba_file_rules "
                                   "ORDER BY line_number").fetchall()
        listening = connection.execute("SHOW listen_addresses").fetchone()
        ssl = connection.execute("SHOW ssl").fetchone()
    assert listening == (f"127.0.0.1,{PORTAL_ADDRESS}",) and ssl == ("on",)
    assert not [rule for rule in rules if rule[4]], rules
    beyond_loopback = [(kind, users, method) for kind, users, address, method, _ in rules
                       if address not in ("127.0.0.1", "::1") and kind != "local"]
    assert beyond_loopback == [("host", ["appliance"], "reject"), ("hostssl", ["all"], "scram-sha-256")], rules
    ca_file = node.home / "postgres-ca.pem"
    with psycopg.connect(host=PORTAL_ADDRESS, port=portal.pg_port, user="appliance", dbname="appliance",
                         password=(portal.home / "secrets" / "postgres-password").read_text().strip(),
                         sslmode="verify-full", sslrootcert=str(ca_file), connect_timeout=5) as verified:
        assert verified.info.pgconn.ssl_in_use  # the node's CA file verifies the server at its private address


def test_the_portals_commands_on_a_node_say_where_to_run_them(node: Appliance) -> None:
    for command in (("users", "list"), ("hubs", "list"), ("nodes", "token")):
        refused = node.cli(*command)
        assert refused.returncode == 1 and "hub node" in refused.stderr and "portal's machine" in refused.stderr, \
            (command, refused.stderr)
    assert node.status()["exit_code"] == 0  # its own components: the proxy and its hub


def hubs_of(portal: Appliance) -> list[dict[str, object]]:
    import json

    listed = portal.cli("hubs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    hubs: list[dict[str, object]] = json.loads(listed.stdout)
    return hubs


def test_a_dead_nodes_members_move_to_a_live_hub_and_removing_it_forgets_it(portal: Appliance) -> None:
    node = new_node(portal, "node-b")
    try:
        with started(node):
            hub_id = next(str(hub["id"]) for hub in hubs_of_node(portal, "node-b"))
            wait_for(lambda: any(hub["id"] == hub_id and hub["state"] == "routable" for hub in hubs_of(portal)), 30,
                     "the node's hub registering with the portal")
            assert portal.cli("hubs", "drain", "1").returncode == 0
            member = Member.new(portal, f"d{secrets.token_hex(4)}")
            assert member.hub_id() == hub_id
            assert portal.cli("hubs", "undrain", "1").returncode == 0
            with browser_client() as browser:
                start_server(portal, f"{portal.proxy_url}/hubs/{hub_id}", member.name, member.password, browser)
            routes = portal.proxy_routes()
            assert f"/hub.lab.localhost/hubs/{hub_id}" in routes
            assert f"/{member.name}.hub.lab.localhost/hubs/{hub_id}" in routes
            assert node.process is not None
            node.process.kill()  # the machine loses power: its supervisor, hubs and servers at once
            for process in node.processes():
                os.kill(process.pid, signal.SIGKILL)
            wait_for(lambda: member.hub_id() != hub_id, 15, "the member moving to a live hub")
            wait_for(lambda: not any(spec.endswith(f"/hubs/{hub_id}") for spec in portal.proxy_routes()), 10,
                     "the dead node's routes leaving the front proxy")
            with browser_client() as browser:
                start_server(portal, f"{portal.proxy_url}/hubs/{member.hub_id()}", member.name, member.password,
                             browser)
            removed = portal.cli("nodes", "remove", "node-b")
            assert removed.returncode == 0, removed.stderr
            assert "node-b" not in portal.cli("nodes", "list").stdout
            assert all(hub["id"] != hub_id for hub in hubs_of(portal))
    finally:
        shutil.rmtree(node.home.parent, ignore_errors=True)


def hubs_of_node(portal: Appliance, name: str) -> list[dict[str, object]]:
    import json

    listed = portal.cli("nodes", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    node = next(node for node in json.loads(listed.stdout) if node["name"] == name)
    return [{"id": hub_id} for hub_id in node["hubs"]]
