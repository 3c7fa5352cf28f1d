"""The render queue as metrics, read from the database at each scrape (the renderer is a process of its own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from appliance.gallery.tables import render_jobs


def render_queue_metrics(engine: Engine) -> Callable[[], Awaitable[list[Metric]]]:
    """A metrics source (appliance.metrics.Source): the jobs waiting or being rendered, and those finished."""

    def count() -> dict[str, int]:
        with engine.connect() as connection:
            return dict(connection.execute(
                select(render_jobs.c.state, func.count()).group_by(render_jobs.c.state)).all())

    async def read() -> list[Metric]:
        by_state = await run_in_threadpool(count)
        depth = GaugeMetricFamily("appliance_render_queue_depth", "Publications' render jobs waiting for the "
                                  "renderer or being rendered.")
        depth.add_metric([], float(by_state.get("queued", 0)))
        finished = CounterMetricFamily("appliance_renders", "Render jobs finished, by result: done, or failed "
                                       "(given up, its reason shown to the author).", labels=["result"])
        for result in ("done", "failed"):
            finished.add_metric([result], float(by_state.get(result, 0)))
        return [depth, finished]

    return read
