"""GET /metrics: the portal's metrics in Prometheus' text format, for whoever holds the metrics token.

Each component declares and records its own metrics with prometheus-client (in the process's default registry);
what the portal process does not see itself (the supervisor's components, the render queue) comes from *sources*,
awaited at each scrape, each giving its metric families. This component only serves them. docs/metrics.md lists
every metric, and a test scrapes each one.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

TOKEN_SECRET = "metrics-token"  # <home>/secrets/metrics-token, made at the first start
REFUSED = ("The metrics need the metrics token: send 'Authorization: Bearer <token>', the token being the "
           "appliance's secrets/metrics-token (readable by root).\n")


log = logging.getLogger(__name__)

Source = Callable[[], Awaitable[list[Metric]]]  # metric families read at the scrape, from outside this process


class _Families:
    """A collector of families already read (CollectorRegistry.register wants a collector)."""

    def __init__(self, families: Iterable[Metric]):
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class MetricsAPI:
    def __init__(self, token: str, sources: Sequence[Source] = ()):
        self.token = token.encode()
        self.sources = sources

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.scrape, methods=["GET"])]

    async def scrape(self, request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            return PlainTextResponse(REFUSED, 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"',
                                                            "Cache-Control": "no-store"})
        read = CollectorRegistry(auto_describe=False)
        for source, families in zip(self.sources, await asyncio.gather(*(source() for source in self.sources),
                                                                      return_exceptions=True), strict=True):
            if isinstance(families, BaseException):  # the others are still worth a scrape
                log.warning("metrics from %s could not be read: %s", getattr(source, "__qualname__", source),
                            families)
                continue
            read.register(_Families(families))
        return Response(generate_latest(REGISTRY) + generate_latest(read), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})
