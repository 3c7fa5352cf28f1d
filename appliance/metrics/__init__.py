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


HubMetrics = Callable[[str], Awaitable[str | None]]  # hub N's own metrics as text; None: no such hub


class MetricsAPI:
    """``/metrics``: the portal's; ``/metrics/hubs/<id>``: that hub's own JupyterHub metrics, fetched for the
    scrape (a hub's own /hub/metrics wants a JupyterHub token, which Prometheus then needs not hold)."""

    def __init__(self, token: str, sources: Sequence[Source] = (), hub_metrics: HubMetrics | None = None):
        self.token = token.encode()
        self.sources = sources
        self.hub_metrics = hub_metrics

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.scrape, methods=["GET"]),
                Route("/metrics/hubs/{hub_id}", self.scrape_hub, methods=["GET"])]

    def _refused(self, request: Request) -> Response | None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            return PlainTextResponse(REFUSED, 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"',
                                                            "Cache-Control": "no-store"})
        return None

    async def scrape_hub(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        hub_id = request.path_params["hub_id"]
        try:
            text = await self.hub_metrics(hub_id) if self.hub_metrics else None
        except Exception as error:  # noqa: BLE001 - any failure of the hub's answer is the same 502 to Prometheus
            return PlainTextResponse(f"Hub {hub_id} did not answer for its metrics ({type(error).__name__}); "
                                     "`appliance status` says whether it runs.\n", 502)
        if text is None:
            return PlainTextResponse(f"There is no hub {hub_id!r}: `appliance hubs list` names them.\n", 404)
        return Response(text, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    async def scrape(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
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
