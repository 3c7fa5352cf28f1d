"""The storage component wired together: the store, the master keys and the token signer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from appliance.home import Home
from appliance.storage.api import StorageAPI
from appliance.storage.crypto import MasterKeyFile
from appliance.storage.settings import StorageSettings
from appliance.storage.store import FileStore
from appliance.storage.tokens import StorageTokens

TOKEN_SECRET = "storage-token-key"


def storage_tokens(home: Home, settings: StorageSettings) -> StorageTokens:
    return StorageTokens(home.secret(TOKEN_SECRET), settings.token_lifetime_s)


class Storage:
    def __init__(self, database_url: str, settings: StorageSettings, home: Home, pool_size: int = 10):
        # lock_timeout per connection: a call waiting on another transaction's rows gives up (HTTP 503)
        lock_timeout = f"-c lock_timeout={int(settings.lock_timeout_s * 1000)}"
        self.engine: AsyncEngine = create_async_engine(database_url, pool_size=pool_size, max_overflow=pool_size,
                                                       pool_pre_ping=True, pool_timeout=10,
                                                       connect_args={"options": lock_timeout})
        self.store = FileStore(self.engine, MasterKeyFile(home.secrets_dir), settings)
        self.tokens = storage_tokens(home, settings)
        self.api = StorageAPI(self.store, self.tokens)

    async def close(self) -> None:
        await self.engine.dispose()
