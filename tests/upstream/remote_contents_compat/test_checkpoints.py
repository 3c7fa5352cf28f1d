"""jupyter_server 2.21.1 tests/services/contents/test_checkpoints.py, run against
RemoteContentsManager + RemoteCheckpoints. Only fixtures are replaced."""

import pytest
from tests.services.contents.test_checkpoints import *  # noqa: F403

from appliance.storage.contents_manager import RemoteCheckpoints
from tests.conftest import contents  # noqa: F401  (upstream fixture, unchanged)

from ._remote import RemoteContentsManager, RemotePath


@pytest.fixture
def remote_token(remote_storage):
    return remote_storage.new_token()


@pytest.fixture
def contents_dir(remote_storage, remote_token):
    """Upstream: tmp_path / jp_serverapp.root_dir (it starts a whole server only to get a
    directory). Here: the root of a fresh remote namespace; no server needed."""
    return RemotePath((remote_storage.url, remote_token))


@pytest.fixture
def contents_manager(remote_storage, remote_token, contents, jp_asyncio_loop):
    """Upstream: (Async)LargeFileManager x (Async)(Generic)FileCheckpoints, 4 params, on the
    directory `contents` populated. Here: RemoteContentsManager + RemoteCheckpoints on the
    namespace `contents` populated."""
    cm = RemoteContentsManager(
        storage_url=remote_storage.url,
        storage_token=remote_token,
        checkpoints_class=RemoteCheckpoints,
    )
    yield cm
    aclose = getattr(cm, "aclose", None)
    if aclose is not None:
        jp_asyncio_loop.run_until_complete(aclose())


LOCAL_FS_ONLY: dict = {}  # every test here is storage-agnostic
