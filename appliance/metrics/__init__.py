"""GET /metrics: the portal's metrics in Prometheus' text format, for whoever holds the metrics token.

Each component declares and records its own metrics with prometheus-client (in the process's default registry);
this component only serves them. docs/metrics.md lists every metric, and a test scrapes each one.
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

TOKEN_SECRET = "metrics-token"  # <home>/secrets/metrics-token, made at the first start
REFUSED = ("The metrics need the metrics token: send 'Authorization: Bearer <token>', the token being the "
           "appliance's secrets/metrics-token (readable by root).\n")


class MetricsAPI:
    def __init__(self, token: str):
        self.token = token.encode()

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.scrape, methods=["GET"])]

    async def scrape(self, request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            return PlainTextResponse(REFUSED, 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"',
                                                            "Cache-Control": "no-store"})
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})
