"""Opaque secrets (session ids, codes, tokens, client secrets): made random, stored as digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> bytes:
    """SHA-256 of a high-entropy secret: enough to look it up, useless to whoever reads the table."""
    return hashlib.sha256(value.encode()).digest()


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
