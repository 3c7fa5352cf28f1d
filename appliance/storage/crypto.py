"""Encryption at rest: one random data key per member, wrapped by the appliance's master keys.

Content is sealed with AES-256-GCM under the member's data key (no base64: sealed bytes are the
plaintext plus 28 bytes). Data keys are wrapped with MultiFernet over the master keys, newest
first, so a new master key can be added and old ones retired by re-wrapping the data keys only.
The master keys live in <home>/secrets/storage-master-keys (one per line, mode 0600).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.storage.errors import StorageError

NONCE_BYTES = 12
MASTER_KEYS_FILE = "storage-master-keys"


class SealError(StorageError):
    """A data key or a sealed blob could not be opened: wrong or retired master key, or tampering."""


class MasterKeys:
    """The master keys, newest first; only the newest wraps, any of them unwraps."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise SealError("no storage master key is configured.")
        self.keys = keys
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def load(cls, secrets_dir: Path) -> MasterKeys:
        """Read the master keys file, creating it with one new key on first use."""
        path = secrets_dir / MASTER_KEYS_FILE
        if not path.exists():
            secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key() + b"\n")
        return cls([line.strip() for line in path.read_bytes().splitlines() if line.strip()])

    def wrap(self, data_key: bytes) -> bytes:
        return self._fernet.encrypt(data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._fernet.decrypt(wrapped)
        except InvalidToken:
            raise SealError("a member's data key cannot be unwrapped by any configured master key.") from None

    def rewrap(self, wrapped: bytes) -> bytes:
        """Re-encrypt a wrapped key under the newest master key."""
        try:
            return self._fernet.rotate(wrapped)
        except InvalidToken:
            raise SealError("a member's data key cannot be unwrapped by any configured master key.") from None


class MasterKeyFile:
    """The master keys file, re-read whenever it changes (so rotation needs no restart)."""

    def __init__(self, secrets_dir: Path):
        self.secrets_dir = secrets_dir
        self.path = secrets_dir / MASTER_KEYS_FILE
        self._loaded: tuple[tuple[int, int, int], MasterKeys] | None = None

    def current(self) -> MasterKeys:
        if not self.path.exists():
            MasterKeys.load(self.secrets_dir)
        stat = self.path.stat()
        # each write is a new file (os.replace) of another size: a change within one tick of the clock is seen too
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._loaded is None or self._loaded[0] != version:
            self._loaded = (version, MasterKeys.load(self.secrets_dir))
        return self._loaded[1]

    def add_new_key(self) -> None:
        """Put a new key first; the others still unwrap until retired."""
        keys = self.current().keys
        self._write([Fernet.generate_key(), *keys])

    def retire_old_keys(self) -> int:
        keys = self.current().keys
        self._write(keys[:1])
        return len(keys) - 1

    def _write(self, keys: list[bytes]) -> None:
        temporary = self.path.with_suffix(".new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(b"".join(key + b"\n" for key in keys))
        os.replace(temporary, self.path)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class Sealer:
    """Seals and opens one member's content with their data key."""

    def __init__(self, data_key: bytes):
        self._aead = AESGCM(data_key)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except Exception:  # cryptography raises InvalidTag without a message
            raise SealError("stored content failed its integrity check (wrong key or tampered).") from None
