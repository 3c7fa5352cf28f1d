"""An attacker's collection point on loopback: whatever reaches it, by any method, is recorded."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness import reserve_ports


@dataclass(frozen=True)
class Arrival:
    method: str
    path: str
    body: str


class Listener:
    def __init__(self) -> None:
        arrivals: queue.Queue[Arrival] = queue.Queue()
        self.seen: list[Arrival] = []

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                arrivals.put(Arrival(self.command, self.path, body))
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_OPTIONS = _record  # noqa: N815 - the http.server names

            def log_message(self, *args: Any) -> None:
                pass

        self.arrivals = arrivals
        self.server = ThreadingHTTPServer(("127.0.0.1", reserve_ports(1)[0]), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/report"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def report(self, timeout: float = 90) -> dict[str, Any]:
        """The first POST's body, as JSON (an attack page that reports what it obtained)."""
        while True:
            arrival = self.arrivals.get(timeout=timeout)
            self.seen.append(arrival)
            if arrival.method == "POST":
                report: dict[str, Any] = json.loads(arrival.body)
                return report

    def everything(self) -> list[Arrival]:
        """All that arrived so far (without waiting)."""
        while True:
            try:
                self.seen.append(self.arrivals.get_nowait())
            except queue.Empty:
                return list(self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
