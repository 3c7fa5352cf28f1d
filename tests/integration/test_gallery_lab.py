"""The gallery in a member's JupyterLab as a hub spawns it, reached through the front proxy with the
member's own cookies: the server extension (appliance.singleuser) publishes the *saved* notebook through
the contents manager to the portal as that member, refuses what the contents manager refuses and passes the
portal's errors on; JupyterLab finds the prebuilt @appliance/gallery extension and jupyter-resource-usage."""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.conftest import running
from tests.integration.lab import MemberServer, server_log
from tests.integration.oauth import Browser, follow

NOTEBOOK = {"cells": [{"cell_type": "markdown", "id": "h1", "metadata": {}, "source": "# Momentum in bonds"},
                      {"cell_type": "code", "id": "c1", "metadata": {"appliance": {"showcase": True}},
                       "execution_count": None, "outputs": [], "source": "print('saved words')"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    yield from running(hubs=1)


@pytest.fixture(autouse=True)
def close_browsers() -> Iterator[None]:
    yield
    Browser.close_all()


class Server(MemberServer):
    """A member's JupyterLab, and the gallery's endpoints in it."""

    def save(self, path: str, notebook: dict[str, Any]) -> None:
        if "/" in path:
            self.put(path.rsplit("/", 1)[0], {"type": "directory"})
        self.put(path, {"type": "notebook", "content": notebook})

    def publish(self, **body: Any) -> httpx.Response:
        return self.browser.post(f"{self.url}/appliance/gallery/publish", headers={"X-XSRFToken": self.xsrf},
                                 json={"title": "Momentum in bonds", "tags": ["bonds"], "visibility": "lab", **body})

    def get(self, endpoint: str, **params: str) -> httpx.Response:
        return self.browser.get(f"{self.url}/appliance/gallery/{endpoint}", params=params)


@pytest.fixture(scope="module")
def alice(lab: Appliance) -> Iterator[Server]:
    server = Server(lab, f"a{secrets.token_hex(4)}")
    yield server
    server.browser.close()


def stored_publication(appliance: Appliance, slug: str) -> dict[str, Any] | None:
    engine = create_engine(appliance.database_url())
    try:
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT p.author, p.source_path, p.title, v.notebook FROM gallery.publications p "
                "JOIN gallery.versions v ON v.publication_id = p.id WHERE p.slug = :slug"), {"slug": slug}).first()
    finally:
        engine.dispose()
    return dict(row._mapping) if row is not None else None


def test_a_member_publishes_the_saved_notebook_through_their_server(lab: Appliance, alice: Server) -> None:
    alice.save("research/bonds.ipynb", NOTEBOOK)
    # whatever else the request carries, the server sends the notebook as saved
    unsaved = {**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][1], "source": "print('unsaved words')"}]}
    answer = alice.publish(path="research/bonds.ipynb", notebook=unsaved)
    assert answer.status_code == 201, answer.text
    published = answer.json()
    assert published["version"] == 1 and published["state"] == "queued"
    assert published["url"].startswith(lab.public_portal_url) and published["slug"] in published["url"]

    stored = stored_publication(lab, published["slug"])
    assert stored is not None
    assert (stored["author"], stored["source_path"], stored["title"]) == (alice.name, "research/bonds.ipynb",
                                                                          "Momentum in bonds")

    notebook = json.loads(zlib.decompress(stored["notebook"]))
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert sources == ["# Momentum in bonds", "print('saved words')"]
    assert notebook["cells"][1]["metadata"] == {"appliance": {"showcase": True}}  # no transient trust mark

    listed = alice.get("publications", path="research/bonds.ipynb")
    assert listed.status_code == 200, listed.text
    assert [p["slug"] for p in listed.json()["publications"]] == [published["slug"]]
    state = alice.get(f"publications/{published['slug']}")
    assert state.status_code == 200 and state.json()["slug"] == published["slug"], state.text
    me = alice.get("me")
    assert me.status_code == 200 and me.json()["username"] == alice.name, me.text

    again = alice.publish(path="research/bonds.ipynb", new_version_of=published["slug"])
    assert again.status_code == 201 and again.json()["version"] == 2, again.text


@pytest.mark.parametrize("path", ["../bob/bonds.ipynb", "research/../../bob/bonds.ipynb", "/../bonds.ipynb",
                                  ".hidden/bonds.ipynb", "research/missing.ipynb"])
def test_paths_the_contents_manager_refuses_are_refused(alice: Server, path: str) -> None:
    answer = alice.publish(path=path)
    assert answer.status_code == 404, answer.text
    assert answer.json()["ok"] is False and answer.json()["error"]


def test_another_members_notebook_cannot_be_published(lab: Appliance, alice: Server) -> None:
    bob = Server(lab, f"b{secrets.token_hex(4)}")
    try:
        bob.save("only-bob.ipynb", NOTEBOOK)
        for path in ("only-bob.ipynb", f"../{bob.name}/only-bob.ipynb", f"/{bob.name}/only-bob.ipynb"):
            answer = alice.publish(path=path)
            assert answer.status_code == 404, (path, answer.text)
        # with everything bob's browser holds, alice's server refuses him (and so publishes nothing of hers)
        refused = follow(bob.browser, f"{alice.url}/appliance/gallery/me")
        assert refused.status_code == 403, (refused.status_code, refused.url)
    finally:
        bob.browser.close()


def test_bad_requests_and_the_portals_refusals_say_why(alice: Server) -> None:
    alice.save("plain.ipynb", NOTEBOOK)
    no_xsrf = alice.browser.post(f"{alice.url}/appliance/gallery/publish", json={"path": "plain.ipynb"})
    assert no_xsrf.status_code == 403
    not_json = alice.browser.post(f"{alice.url}/appliance/gallery/publish", headers={"X-XSRFToken": alice.xsrf},
                                  content=b"{path")
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert alice.publish(path="").json()["error"] == "Say which notebook to publish: 'path' is empty."
    assert "'tags' must be a list" in alice.publish(path="plain.ipynb", tags="a,b").json()["error"]
    folder = alice.publish(path="research")
    assert folder.status_code == 400 and "is a directory" in folder.json()["error"], folder.text
    # the portal's own refusals, with their status and message
    untitled = alice.publish(path="plain.ipynb", title="  ")
    assert untitled.status_code == 400 and "title" in untitled.json()["error"].lower(), untitled.text
    outsider = alice.publish(path="plain.ipynb", visibility="group:not-my-group")
    assert outsider.status_code == 403 and "not-my-group" in outsider.json()["error"], outsider.text


def test_jupyterlab_loads_the_gallery_extension_and_resource_usage(lab: Appliance, alice: Server) -> None:
    config_data = alice.page.split('id="jupyter-config-data" type="application/json">', 1)[1]
    page_config = json.loads(config_data.split("</script>", 1)[0])
    federated = {extension["name"] for extension in page_config["federated_extensions"]}
    assert {"@appliance/gallery", "@jupyter-server/resource-usage"} <= federated, federated
    # members cannot install into the appliance's environment: JupyterLab's Extension Manager only lists
    assert page_config["extensionManager"]["can_install"] is False, page_config["extensionManager"]
    # resource usage answers the status bar on demand, without a Prometheus walk of /proc every second
    log = server_log(lab, alice.name).read_text()
    assert "Prometheus metrics reporting disabled" in log, log[-2000:]
    schema = alice.browser.get(f"{alice.url}/lab/api/settings/@appliance/gallery:plugin")
    assert schema.status_code == 200, schema.text
    assert "Cell" in schema.json()["schema"]["jupyter.lab.toolbars"]
    metrics = alice.browser.get(f"{alice.url}/api/metrics/v1")
    assert metrics.status_code == 200 and metrics.json()["rss"] > 0, metrics.text
