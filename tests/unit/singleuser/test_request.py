"""The shape checks of a publish request, and where the gallery API is found (appliance.singleuser)."""

from __future__ import annotations

import json

import pytest

from appliance.singleuser.portal import PortalUnconfigured, gallery_api_url
from appliance.singleuser.request import BadRequest, parse_publish


def body(**fields: object) -> bytes:
    return json.dumps({"path": "a/b.ipynb", **fields}).encode()


def test_a_full_request_becomes_the_portals_body_with_the_saved_notebook() -> None:
    request = parse_publish(body(path="/a/b.ipynb", title="T", summary="S", tags=["x", "y"], visibility="group:g",
                                 strip_outputs=True, new_version_of="abc", notebook={"not": "used"}))
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert request.payload(notebook) == {
        "notebook": notebook, "path": "a/b.ipynb", "title": "T", "summary": "S", "tags": ["x", "y"],
        "visibility": "group:g", "strip_outputs": True, "new_version_of": "abc"}


def test_defaults_leave_the_rules_to_the_portal() -> None:
    request = parse_publish(body())
    assert (request.title, request.summary, request.tags, request.visibility, request.strip_outputs,
            request.new_version_of) == ("", "", [], "lab", False, None)


@pytest.mark.parametrize(("raw", "said"), [
    (b"{path", "The request is not JSON"),
    (b"[]", "must be a JSON object"),
    (body(path=""), "'path' is empty"),
    (body(path=7), "'path' must be a string"),
    (body(path="a" * 5000), "longer than 4096"),
    (body(tags="a,b"), "'tags' must be a list of strings"),
    (body(tags=[1]), "'tags' must be a list of strings"),
    (body(strip_outputs="yes"), "'strip_outputs' must be true or false"),
    (body(new_version_of=""), "'new_version_of' must be an earlier publication's slug"),
    (body(title=None), "'title' must be a string, not NoneType"),
])
def test_malformed_requests_are_refused_naming_the_field(raw: bytes, said: str) -> None:
    with pytest.raises(BadRequest, match=said):
        parse_publish(raw)


def test_the_gallery_api_is_found_beside_the_storage_api() -> None:
    assert gallery_api_url("http://127.0.0.1:8000/api/storage/v1/") == "http://127.0.0.1:8000/api/gallery/v1"
    with pytest.raises(PortalUnconfigured, match="does not end in /api/storage/v1"):
        gallery_api_url("http://127.0.0.1:8000/storage")
