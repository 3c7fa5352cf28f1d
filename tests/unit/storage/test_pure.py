"""Storage's pure pieces: paths, sealing, master keys, tokens, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.storage.crypto import MasterKeyFile, MasterKeys, Sealer, SealError, new_data_key
from appliance.storage.errors import BadPath, Unauthorized
from appliance.storage.paths import human_size, is_within, name_of, normalize, parent_of
from appliance.storage.tokens import StorageTokens


@pytest.mark.parametrize(("raw", "path"), [("", ""), ("/", ""), ("a/b.ipynb", "a/b.ipynb"), ("/a/b/", "a/b"),
                                           ("dir with space/ü.txt", "dir with space/ü.txt"), (".hidden", ".hidden"),
                                           ("a\\b", "a\\b"), ("%2e%2e", "%2e%2e")])
def test_paths_normalize(raw: str, path: str) -> None:
    assert normalize(raw) == path


@pytest.mark.parametrize("raw", ["..", "../x", "a/../b", "a/./b", "a//b", "x/..", "a\x00b", "x" * 256,
                                 "/".join(["abc"] * 1500)])
def test_paths_that_could_escape_or_confuse_are_refused(raw: str) -> None:
    with pytest.raises(BadPath):
        normalize(raw)


def test_path_parts() -> None:
    assert (parent_of("a/b/c"), name_of("a/b/c"), parent_of("a"), name_of("a")) == ("a/b", "c", "", "a")
    assert is_within("a/b", "a") and is_within("a", "a") and is_within("x", "")
    assert not is_within("ab", "a") and not is_within("a", "a/b")
    assert [human_size(n) for n in (512, 100_000, 1_500_000, 100_000_000)] == ["512 bytes", "100 kB", "1.5 MB",
                                                                              "100 MB"]


def test_sealing_is_bound_to_key_and_context() -> None:
    sealer = Sealer(new_data_key())
    sealed = sealer.seal(b"notebook", b"namespace:1")
    assert b"notebook" not in sealed and len(sealed) == len(b"notebook") + 28
    assert sealer.open(sealed, b"namespace:1") == b"notebook"
    assert sealer.seal(b"notebook", b"namespace:1") != sealed  # fresh nonce every time
    with pytest.raises(SealError):
        sealer.open(sealed, b"namespace:2")  # moved to another member's namespace
    with pytest.raises(SealError):
        Sealer(new_data_key()).open(sealed, b"namespace:1")
    with pytest.raises(SealError):
        sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"namespace:1")


def test_master_keys_wrap_with_the_newest_and_unwrap_with_any(tmp_path: Path) -> None:
    key_file = MasterKeyFile(tmp_path)
    data_key = new_data_key()
    wrapped_old = key_file.current().wrap(data_key)
    assert (tmp_path / "storage-master-keys").stat().st_mode & 0o777 == 0o600
    key_file.add_new_key()
    keys = key_file.current()
    assert len(keys.keys) == 2 and keys.unwrap(wrapped_old) == data_key
    rewrapped = keys.rewrap(wrapped_old)
    assert key_file.retire_old_keys() == 1
    assert key_file.current().unwrap(rewrapped) == data_key
    with pytest.raises(SealError):
        key_file.current().unwrap(wrapped_old)
    with pytest.raises(SealError):
        MasterKeys([])


def test_storage_tokens() -> None:
    tokens = StorageTokens("k" * 32, lifetime_s=60)
    assert tokens.verify(tokens.mint("ada")) == "ada"
    with pytest.raises(Unauthorized):
        StorageTokens("j" * 32, 60).verify(tokens.mint("ada"))
    with pytest.raises(Unauthorized):
        tokens.verify(tokens.mint("ada", lifetime_s=-5))
    with pytest.raises(Unauthorized):
        tokens.verify("not.a.token")
