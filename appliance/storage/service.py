"""The storage component wired together: the store, the master keys and the token signer."""

from __future__ import annotations

from appliance.audit import Record, no_record
from appliance.db.pool import async_pool
from appliance.home import Home
from appliance.storage.api import StorageAPI
from appliance.storage.crypto import MasterKeyFile
from appliance.storage.settings import StorageSettings
from appliance.storage.store import FileStore
from appliance.storage.tokens import StandingCheck, StandingLookup, StorageTokens

TOKEN_SECRET = "storage-token-key"


def storage_tokens(home: Home, settings: StorageSettings) -> StorageTokens:
    return StorageTokens(home.secret(TOKEN_SECRET), settings.token_lifetime_s)


class Storage:
    """Call ``await open()`` inside the event loop that will use it, and ``await close()`` at the end."""

    def __init__(self, database_url: str, settings: StorageSettings, home: Home, pool_size: int = 10,
                 standing: StandingLookup | None = None, record: Record = no_record):
        """``standing``: members' current state (identity's), which every storage token is checked
        against; without it (tools that never serve the API) the API refuses every token. ``record``:
        the audit log's, for the tokens the API refuses."""
        # lock_timeout: a call waiting on another transaction's rows gives up (HTTP 503)
        self.pool = async_pool(database_url, 2 * pool_size, f"-c lock_timeout={int(settings.lock_timeout_s * 1000)}")
        self.store = FileStore(self.pool, MasterKeyFile(home.secrets_dir), settings)
        self.tokens = storage_tokens(home, settings)
        self.api = StorageAPI(self.store, self.tokens, StandingCheck(standing) if standing is not None else None,
                              record)

    async def open(self) -> None:
        await self.pool.open()
        self.store.in_background(self.store.sweep())

    async def close(self) -> None:
        await self.store.settle()
        await self.pool.close()
