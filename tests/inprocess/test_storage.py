"""The storage API on the real portal and PostgreSQL: isolation, tokens, limits, encryption at rest."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import create_engine, text

from tests.harness import Appliance
from tests.integration.storage_client import StorageCaller, mint, new_member


@pytest.fixture
def two_members(portal_in_process: Appliance) -> Iterator[tuple[StorageCaller, StorageCaller]]:
    alice = StorageCaller(portal_in_process, mint(portal_in_process, new_member()))
    bob_name = new_member()
    bob = StorageCaller(portal_in_process, mint(portal_in_process, bob_name))
    assert bob.mkdir("private").status_code == 200
    assert bob.write("private/secret.txt", b"bob's secret").status_code == 200
    assert bob.write("secret.txt", b"bob's other secret").status_code == 200
    bob.name = bob_name  # type: ignore[attr-defined]
    yield alice, bob


# ----- isolation --------------------------------------------------------------------------------------

HOSTILE_PATHS = [
    "../{bob}/secret.txt", "..%2F{bob}%2Fsecret.txt", "%2e%2e/{bob}/secret.txt", "a/../../{bob}/secret.txt",
    "./../{bob}/secret.txt", "{bob}/../../secret.txt", "%2E%2E%2F%2E%2E%2Fsecret.txt", "..\\..\\secret.txt",
    "/../{bob}/secret.txt", "a/%2e%2e/%2e%2e/secret.txt", "secret.txt%00.png",
]


@pytest.mark.parametrize("spelling", HOSTILE_PATHS)
def test_no_path_spelling_reaches_another_member(two_members: tuple[StorageCaller, StorageCaller],
                                                 spelling: str) -> None:
    alice, bob = two_members
    path = spelling.format(bob=bob.name)  # type: ignore[attr-defined]
    for verb, method in (("read", "GET"), ("stat", "GET"), ("list", "GET"), ("delete", "DELETE"),
                         ("checkpoints", "GET")):
        response = alice.call(method, verb, path, raw_path=True)
        assert response.status_code in (400, 404), (verb, path, response.status_code)
        assert b"secret" not in response.content.replace(b"secret.txt", b"")
    assert alice.call("POST", "copy", path, raw_path=True, params={"to": "stolen.txt"}).status_code in (400, 404)
    before = bob.call("GET", "list", "").json()["entries"]
    for verb in ("copy", "rename"):
        alice.write("mine.txt", b"alice")
        moved = alice.call("POST", verb, "mine.txt", params={"to": path})
        # refused, or (query values are taken literally) a strangely named file in her own namespace
        assert moved.status_code in (200, 201, 400, 404, 409)
        if moved.is_success:
            assert alice.call("GET", "stat", moved.json()["path"]).json()["path"] == moved.json()["path"]
    assert bob.call("GET", "list", "").json()["entries"] == before
    assert bob.read("private/secret.txt").content == b"bob's secret"  # untouched
    assert bob.read("secret.txt").content == b"bob's other secret"


def test_same_path_in_two_namespaces_is_two_files(two_members: tuple[StorageCaller, StorageCaller]) -> None:
    alice, bob = two_members
    assert alice.read("secret.txt").status_code == 404
    assert alice.call("GET", "list", "").json()["entries"] == []
    assert alice.write("secret.txt", b"alice's").status_code == 200
    assert alice.read("secret.txt").content == b"alice's"
    assert bob.read("secret.txt").content == b"bob's other secret"
    assert alice.call("DELETE", "delete", "private").status_code == 404  # bob's directory is not hers


def test_absolute_and_doubled_slashes_stay_inside_the_namespace(
        two_members: tuple[StorageCaller, StorageCaller]) -> None:
    alice, _ = two_members
    alice.write("notes.txt", b"mine")
    assert alice.call("GET", "read", "//notes.txt", raw_path=True).content == b"mine"
    assert alice.call("GET", "read", "a//b", raw_path=True).status_code == 400


@pytest.mark.parametrize("token", ["", "garbage", "Bearer", "eyJhbGciOiJIUzI1NiJ9.e30.abc"])
def test_missing_or_malformed_token_is_refused(portal_in_process: Appliance, token: str) -> None:
    response = httpx.get(f"{portal_in_process.portal_url}/api/storage/v1/list/",
                         headers={"Authorization": f"Bearer {token}"} if token else {})
    assert response.status_code == 401
    assert response.json()["ok"] is False and response.json()["status"] == 401


def test_forged_and_expired_tokens_are_refused(portal_in_process: Appliance) -> None:
    name = new_member()
    forged = jwt.encode({"alg": "HS256"}, {"sub": name, "aud": "appliance-storage", "exp": int(time.time()) + 600},
                        OctKey.import_key(b"not-the-appliance-key-0123456789"), algorithms=["HS256"])
    assert StorageCaller(portal_in_process, forged).call("GET", "list", "").status_code == 401
    unsigned = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") for part in (
        {"alg": "none", "typ": "JWT"}, {"sub": name, "aud": "appliance-storage", "exp": int(time.time()) + 600})) + "."
    assert StorageCaller(portal_in_process, unsigned).call("GET", "list", "").status_code == 401
    assert StorageCaller(portal_in_process, mint(portal_in_process, name, lifetime_s=60)).call(
        "GET", "list", "").status_code == 200
    expired = StorageCaller(portal_in_process, mint(portal_in_process, name, lifetime_s=-1))  # a second ago
    response = expired.call("GET", "list", "")
    assert response.status_code == 401 and "restart your server" in response.json()["error"]


# ----- limits ---------------------------------------------------------------------------------------------

def test_oversized_file_is_refused_with_413_and_nothing_stored(new_portal: Callable[..., Appliance]) -> None:
    appliance = new_portal(APPLIANCE_STORAGE_MAX_FILE_SIZE_BYTES="100000")
    member = StorageCaller(appliance, mint(appliance, new_member()))
    assert member.write("big.ipynb", b"x" * 100_000).status_code == 200  # exactly the limit is fine
    too_big = member.write("big.ipynb", b"y" * 100_001)
    assert too_big.status_code == 413
    assert too_big.json()["error"] == ("big.ipynb (100 kB) is larger than 100 kB, the largest file this lab "
                                       "stores (storage.max_file_size_bytes). Nothing was saved.")
    assert member.read("big.ipynb").content == b"x" * 100_000  # the previous version is intact

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(30):
            yield b"z" * 10_000

    streamed = member.call("PUT", "write", "streamed.bin", content=chunks())
    assert streamed.status_code == 413 and "streamed.bin is larger than 100 kB" in streamed.json()["error"]
    assert member.read("streamed.bin").status_code == 404


# ----- at rest ----------------------------------------------------------------------------------------------

def test_database_dump_does_not_contain_the_content(portal_in_process: Appliance) -> None:
    marker = f"UNIQUE-MARKER-{os.urandom(8).hex()}"
    member = StorageCaller(portal_in_process, mint(portal_in_process, new_member()))
    notebook = ('{"cells": [{"cell_type": "markdown", "metadata": {}, "source": "' + marker + '"}], '
                '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    assert member.write("marked.ipynb", notebook.encode()).status_code == 200
    assert member.call("POST", "checkpoints", "marked.ipynb").status_code == 201
    assert marker.encode() in member.read("marked.ipynb").content
    dump = portal_in_process.database_dump()
    assert "storage.files" in dump
    assert marker not in dump
    assert "marked.ipynb" in dump  # names are not secret; contents are


def test_tampered_content_is_detected_not_served(portal_in_process: Appliance) -> None:
    name = new_member()
    member = StorageCaller(portal_in_process, mint(portal_in_process, name))
    member.write("a.txt", b"original")
    engine = create_engine(portal_in_process.database_url())
    with engine.begin() as connection:  # flip one bit of the sealed bytes
        connection.execute(text(
            "UPDATE storage.blobs SET content = set_byte(content, 20, get_byte(content, 20) # 1) "
            "WHERE id = (SELECT blob_id FROM storage.files WHERE path = 'a.txt' "
            "            AND namespace_id = (SELECT id FROM storage.namespaces WHERE username = :u))"),
            {"u": name})
    engine.dispose()
    response = member.read("a.txt")
    assert response.status_code == 500
    assert "failed its integrity check" in response.json()["error"]


