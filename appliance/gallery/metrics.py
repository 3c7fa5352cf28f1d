"""The render queue as metrics, read from the database at each scrape (the renderer is a process of its own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from appliance.gallery.tables import render_jobs

# a notebook's render, from a small one to the time limit
RENDER_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


def render_queue_metrics(engine: Engine) -> Callable[[], Awaitable[list[Metric]]]:
    """A metrics source (appliance.metrics.Source): the jobs waiting or being rendered, those finished, and how
    long their renders took."""

    seconds = render_jobs.c.render_seconds

    def count() -> tuple[dict[str, int], list[int], float]:
        """Jobs by state; renders at most each bucket's bound long, then all of them; their seconds summed."""
        with engine.connect() as connection:
            by_state: dict[str, int] = dict(connection.execute(
                select(render_jobs.c.state, func.count()).group_by(render_jobs.c.state)).all())
            row = connection.execute(select(
                *(func.count().filter(seconds <= bound) for bound in RENDER_BUCKETS_S), func.count(seconds),
                func.coalesce(func.sum(seconds), 0.0))).one()
        return by_state, [int(n) for n in row[:-1]], float(row[-1])

    async def read() -> list[Metric]:
        by_state, cumulative, total_s = await run_in_threadpool(count)
        depth = GaugeMetricFamily("appliance_render_queue_depth", "Publications' render jobs waiting for the "
                                  "renderer or being rendered.")
        depth.add_metric([], float(by_state.get("queued", 0)))
        finished = CounterMetricFamily("appliance_renders", "Render jobs finished, by result: done, or failed "
                                       "(given up, its reason shown to the author).", labels=["result"])
        for result in ("done", "failed"):
            finished.add_metric([result], float(by_state.get(result, 0)))
        took = HistogramMetricFamily("appliance_render_seconds", "Time the renderer took for each job's last "
                                     "render (a notebook's HTML, preview and thumbnails).")
        took.add_metric([], [(str(bound), float(n)) for bound, n in zip(RENDER_BUCKETS_S, cumulative[:-1], strict=True)]
                        + [("+Inf", float(cumulative[-1]))], sum_value=total_s)
        return [depth, finished, took]

    return read
