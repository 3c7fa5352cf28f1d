"""jupyter_server's own contents tests (test_manager, test_api, test_checkpoints), run unchanged
against RemoteContentsManager on a real appliance (PostgreSQL + portal), through fixture wrappers;
test_api's server runs it as members' servers do, behind RoutingContentsManager.

Run by tests/upstream/run in its own pytest process: the upstream tests are a package named
``tests`` (as ours are), they need the sdist of the installed jupyter_server (the runner downloads
and unpacks it, pointed to by $JS_SDIST), and pytest-asyncio must be in strict mode for them.
Tests inherently about the local filesystem are skipped by name, with the reason, in each
wrapper's LOCAL_FS_ONLY table.

Fixtures: ``remote_storage`` (session): ``.url`` of the storage API and ``.new_token()`` for a
brand-new empty member namespace; everything else comes from upstream or the wrappers.
"""

import os
import sys

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # as upstream's conftest: before any jupyter import

JS_SDIST = os.environ.get("JS_SDIST")
if not JS_SDIST:
    raise RuntimeError("JS_SDIST is not set: run this suite with tests/upstream/run")
sys.path.insert(0, JS_SDIST)

import tests  # noqa: E402

if not os.path.abspath(tests.__file__).startswith(os.path.abspath(JS_SDIST) + os.sep):
    raise RuntimeError(f"'tests' resolves to {tests.__file__}, not jupyter_server's sdist at {JS_SDIST}; "
                       "run this suite on its own with tests/upstream/run")

pytest_plugins = ["jupyter_server.pytest_plugin", "remote_storage_plugin"]


def pytest_collection_modifyitems(config, items):
    """Skip the tests each wrapper lists in LOCAL_FS_ONLY (by name, or exact parametrized name)."""
    import pytest

    for item in items:
        table = getattr(getattr(item, "module", None), "LOCAL_FS_ONLY", None)
        if not table:
            continue
        reason = table.get(item.name) or table.get(getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"local filesystem only: {reason}"))
