"""[storage]: notebooks and files in PostgreSQL, encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.knobs import knob


@dataclass(frozen=True)
class StorageSettings:
    """[storage] Every member's notebooks and files, their checkpoints and encryption."""

    max_file_size_bytes: int = knob(
        100_000_000,
        "Largest file or notebook stored, measured on the member's own bytes (before encryption), in "
        "bytes (100 MB). A larger save is refused with HTTP 413 and nothing of it is stored.",
    )
    checkpoints_kept: int = knob(
        50,
        "Checkpoints kept per file; when a new one is made, the oldest beyond this count are deleted. "
        "0 keeps every checkpoint.",
    )
    token_lifetime_s: int = knob(
        600,
        "Seconds a storage token is valid (10 minutes; at least 60). The hub gives every user server a token "
        "at spawn, and the server renews it from its hub before it expires for as long as the member's access "
        "lasts; a sign-out, password change or disable refuses older tokens at once whatever their lifetime. "
        "`appliance storage token` mints one for tools and tests. Takes effect for tokens minted after a "
        "restart.",
    )
    lock_timeout_s: float = knob(
        5.0,
        "Seconds a storage call waits for a row another transaction holds before it fails with HTTP 503 "
        "(the client may retry). Keeps one member's stuck save from tying up the database pool.",
    )

    mounts: str = knob(
        "",
        "Real directories shown inside every member's files (hybrid mode), as comma-separated "
        "NAME=PATH items; ':ro' makes one read-only and {username} in PATH gives each member their own, "
        "e.g. 'datasets=/srv/datasets:ro, scratch=/srv/scratch/{username}'. Empty mounts nothing. "
        "Applies to user servers started after the change.",
    )

    def __post_init__(self) -> None:
        from appliance.storage.mounts import parse_mounts

        parse_mounts(self.mounts)  # refuse a malformed list at load time
        if self.max_file_size_bytes < 1024:
            raise ConfigError(f"storage.max_file_size_bytes = {self.max_file_size_bytes}: must be at least 1024.")
        if self.token_lifetime_s < 60:
            raise ConfigError(f"storage.token_lifetime_s = {self.token_lifetime_s}: must be at least 60 seconds "
                              "(the user servers renew their tokens before they expire).")
        if self.checkpoints_kept < 0:
            raise ConfigError(f"storage.checkpoints_kept = {self.checkpoints_kept}: must be 0 (all) or more.")
