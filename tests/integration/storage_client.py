"""Talking to the real storage API: tokens minted with the appliance's own key, raw HTTP calls."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx

from tests.harness import Appliance, mint_storage_token

mint = mint_storage_token


def new_member() -> str:
    return f"m{uuid.uuid4().hex[:12]}"


class StorageCaller:
    """Raw calls to /api/storage/v1 with one member's token."""

    def __init__(self, appliance: Appliance, token: str):
        self.base = f"{appliance.portal_url}/api/storage/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, verb: str, path: str = "", raw_path: bool = False, **kwargs: Any) -> httpx.Response:
        """``raw_path`` sends the path as written (for hostile spellings); else it is percent-encoded."""
        url = f"{self.base}/{verb}/{path if raw_path else quote(path, safe='/')}"
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(method, url, headers=headers, timeout=60, **kwargs)

    def write(self, path: str, data: bytes) -> httpx.Response:
        return self.call("PUT", "write", path, content=data)

    def read(self, path: str) -> httpx.Response:
        return self.call("GET", "read", path)

    def mkdir(self, path: str) -> httpx.Response:
        return self.call("PUT", "mkdir", path)
