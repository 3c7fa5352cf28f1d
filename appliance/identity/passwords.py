"""Password hashing with argon2id at OWASP's recommended setting (m=19 MiB, t=2, p=1: the Password Storage
Cheat Sheet's first configuration). argon2-cffi's default (RFC 9106's low-memory profile, t=3, m=64 MiB,
p=4) took 0.19 s a check on an idle 2-core box and 0.4-0.5 s under load, most of the gap between the
appliance's sign-in and plain JupyterHub's (bench/browser.py); this one takes 0.03 s. Sign-in throttling
and lock-outs (identity.settings) bound guessing online; a hash made with other parameters still
verifies, and is made again with these at the member's next sign-in (``needs_rehash``)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import secrets
import threading
from collections.abc import Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
HASH_MEMORY_BYTES = _hasher.memory_cost * 1024  # memory_cost is in KiB


class HashingBusy(Exception):
    """Every hashing slot is taken: answer now rather than wait."""


class HashingSlots:
    """At most ``limit`` password hashes computed at once. Each takes HASH_MEMORY_BYTES for its ~0.03 s,
    so a flood of sign-ins would otherwise cost memory in proportion; past the limit a caller is
    refused at once (HashingBusy), never queued."""

    def __init__(self, limit: int):
        self._slots = threading.BoundedSemaphore(limit)
        _return_freed_hash_memory()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        try:
            yield
        finally:
            self._slots.release()


M_MMAP_THRESHOLD = -3  # mallopt's parameter, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial threshold


@functools.cache
def _return_freed_hash_memory() -> None:
    """Fix glibc's mmap threshold so that argon2's buffers are always mmapped and given back when freed.
    glibc raises the threshold to the size of any mmapped block freed (up to 32 MiB); after the first
    check, 19 MiB buffers come from per-thread arenas and stay in them: 200 concurrent wrong passwords
    left the portal 175-235 MB larger, more on machines with more cores (more arenas). Setting the
    threshold stops that raising. Elsewhere than glibc there is no mallopt, and nothing to do."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that both cases take the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A password for a new or reset account: 20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)
