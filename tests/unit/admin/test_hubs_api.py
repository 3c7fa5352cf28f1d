"""The hubs' history in the admin API: its JSON is written once for each history the console keeps."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from appliance.admin.hubs_api import HubsAPI
from appliance.discovery import History
from appliance.discovery.samples import Series


class CountedHistory(History):
    written = 0

    def to_json(self) -> dict[str, Any]:
        CountedHistory.written += 1
        return super().to_json()


class Console:
    def __init__(self) -> None:
        self.kept = self.history_of(1)

    @staticmethod
    def history_of(members: int) -> CountedHistory:
        series = Series("1", [1.7e9], {"members": [members], "active": [0], "running": [0], "pending": [0],
                                       "memory_bytes": [None]})
        return CountedHistory("7d", 1.7e9 - 604_800, 1.7e9, 1800.0, [series])

    async def history(self, window: str) -> History:
        return self.kept


def request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/admin/v1/hubs/history", "headers": [],
                    "query_string": b"window=7d"})


async def test_the_json_is_written_once_for_each_kept_history() -> None:
    console = Console()
    api = HubsAPI(console, None)  # type: ignore[arg-type]
    first = await api.history(request(), None)  # type: ignore[arg-type]
    again = await api.history(request(), None)  # type: ignore[arg-type]
    assert first.body == again.body and CountedHistory.written == 1
    assert json.loads(bytes(first.body))["hubs"][0]["members"] == [1] and first.media_type == "application/json"
    console.kept = console.history_of(2)  # the next sample: a new history
    after = await api.history(request(), None)  # type: ignore[arg-type]
    assert json.loads(bytes(after.body))["hubs"][0]["members"] == [2]
    assert CountedHistory.written == 2
