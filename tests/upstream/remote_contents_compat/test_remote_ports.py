"""OPTIONAL, NOT UPSTREAM: storage-agnostic re-statements of what the skipped local-FS tests
check, so that skipping them does not drop the behaviour. Each names the upstream test it
replaces. Mutation runs against the validation stand-in showed that, without these, nothing
in the wrapped suite checks the manager's own hidden-path refusals, listing filtering or
path escape.
"""

import asyncio
import json

import pytest
from jupyter_core.utils import ensure_async
from tests.utils import expected_http_error
from tornado.web import HTTPError

from tests.conftest import contents, folders  # noqa: F401

from . import _remote
from .test_api import _check_created, contents_dir, jp_argv, jp_server_config  # noqa: F401
from .test_manager import _make_dir, jp_contents_manager  # noqa: F401


async def test_hidden_refusals(jp_contents_manager):
    """Replaces test_manager.py::test_400 and ::test_404 (which need _get_os_path)."""
    cm = jp_contents_manager
    _make_dir(cm, ".hidden")
    _make_dir(cm, "visible")
    for path in (".hidden/visible.txt", "visible/.hidden.txt"):
        with pytest.raises(HTTPError) as e:
            await ensure_async(cm.delete_file(path))
        assert expected_http_error(e, 400)
        with pytest.raises(HTTPError):
            await ensure_async(cm.new(path=path))
        for old, new in ((path, "new.txt"), ("old.txt", path)):
            with pytest.raises(HTTPError) as e:
                await ensure_async(cm.rename_file(old, new))
            assert expected_http_error(e, 400)
    cm.allow_hidden = True
    for path in (".hidden/visible.txt", "visible/.hidden.txt"):
        await ensure_async(cm.new(path=path))
    listing = {m["name"] for m in (await ensure_async(cm.get("")))["content"]}
    assert ".hidden" in listing
    cm.allow_hidden = False
    listing = {m["name"] for m in (await ensure_async(cm.get("")))["content"]}
    assert ".hidden" not in listing and "visible" in listing
    assert [m["name"] for m in (await ensure_async(cm.get("visible")))["content"]] == []
    for path in (".hidden/visible.txt", "visible/.hidden.txt", ".hidden", "foo.bar"):
        with pytest.raises(HTTPError) as e:
            await ensure_async(cm.get(path))
        assert expected_http_error(e, 404)


async def test_escape_root_remote(jp_contents_manager):
    """Replaces test_manager.py::test_escape_root (which writes next to root_dir on disk)."""
    cm = jp_contents_manager
    await ensure_async(cm.new(path="foo"))
    await ensure_async(cm.new(path="bar"))
    calls = [
        cm.get(".."),
        cm.get("foo/../../../bar"),
        cm.delete("../foo"),
        cm.rename("../foo", "../bar"),
        cm.save(model={"type": "file", "content": "", "format": "text"}, path="../foo"),
    ]
    for call in calls:
        with pytest.raises(HTTPError) as e:
            await ensure_async(call)
        assert expected_http_error(e, 404)


async def test_hidden_dir_operations_when_allowed(jp_contents_manager):
    """Replaces test_manager.py::test_regression_is_hidden without the patches of the
    filesystem is_hidden helpers; the final check becomes 'refused again once disallowed'."""
    cm = jp_contents_manager
    cm.allow_hidden = True
    d = "foo/.hidden_dir"
    _make_dir(cm, d)
    await ensure_async(cm.new(path=f"{d}/nb.ipynb"))
    await ensure_async(cm.new(path=f"{d}/file.txt"))
    await ensure_async(cm.get(d))
    await ensure_async(cm.new(path=f"{d}/subdir", model={"type": "directory"}))
    await ensure_async(cm.copy(from_path=f"{d}/file.txt", to_path=f"{d}/file-copy.txt"))
    await ensure_async(cm.rename_file(old_path=f"{d}/file-copy.txt", new_path=f"{d}/file-renamed.txt"))
    await ensure_async(cm.delete_file(path=f"{d}/file-renamed.txt"))
    cm.allow_hidden = False
    with pytest.raises(HTTPError) as e:
        await ensure_async(cm.get(d))
    assert expected_http_error(e, 404)


async def test_created_and_last_modified(jp_contents_manager):
    """Replaces test_manager.py::test_created_timestamp (which back-dates mtime with os.utime)."""
    cm = jp_contents_manager
    model = await ensure_async(cm.new_untitled(type="file", ext=".txt"))
    model = await ensure_async(cm.get(model["path"]))
    assert model["created"] <= model["last_modified"]
    await asyncio.sleep(1.1)  # survives a store that keeps whole seconds only
    model["content"] = "modified content"
    await ensure_async(cm.save(model, model["path"]))
    updated = await ensure_async(cm.get(model["path"]))
    assert updated["last_modified"] > model["last_modified"]
    assert updated["created"] == model["created"]


async def test_rename_api_remote(jp_fetch, jp_base_url, jp_serverapp, contents):
    """Replaces test_api.py::test_rename: same body, existence checked in the remote store."""
    from jupyter_server.utils import url_path_join

    r = await jp_fetch("api", "contents", "foo", "a.ipynb", method="PATCH", body=json.dumps({"path": "foo/z.ipynb"}))
    assert r.code == 200
    assert r.headers["Location"] == url_path_join(jp_base_url, "api/contents/", "foo/z.ipynb")
    model = json.loads(r.body.decode())
    assert (model["name"], model["path"]) == ("z.ipynb", "foo/z.ipynb")
    assert _remote.file_exists(_remote.creds(jp_serverapp.contents_manager), "foo/z.ipynb")
    r = await jp_fetch("api", "contents", "foo", method="GET")
    names = [m["name"] for m in json.loads(r.body.decode())["content"]]
    assert "z.ipynb" in names and "a.ipynb" not in names
