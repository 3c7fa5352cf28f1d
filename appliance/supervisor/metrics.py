"""The supervisor's components as metrics, read by the portal from the control socket at each scrape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from appliance.supervisor.control import SupervisorClient
from appliance.supervisor.core import CRASHLOOP, HEALTHY, STARTING, STOPPED, UNHEALTHY

STATES = (STARTING, HEALTHY, UNHEALTHY, CRASHLOOP, STOPPED)


def component_metrics(client: SupervisorClient) -> Callable[[], Awaitable[list[Metric]]]:
    """A metrics source (appliance.metrics.Source): whether the supervisor answers, each component's state and
    its restarts."""

    async def read() -> list[Metric]:
        status = await client.status()
        up = GaugeMetricFamily("appliance_supervisor_up", "1 when the supervisor answers on its control socket.")
        up.add_metric([], 1.0 if status else 0.0)
        state = GaugeMetricFamily("appliance_component_state", "1 for the state each component is in (starting, "
                                  "healthy, unhealthy, crashloop, stopped), 0 for the others.",
                                  labels=["component", "state"])
        restarts = CounterMetricFamily("appliance_component_restarts", "Restarts of each component since the "
                                       "supervisor started.", labels=["component"])
        for component in (status or {}).get("components", []):
            for name in STATES:
                state.add_metric([component["name"], name], 1.0 if component["state"] == name else 0.0)
            restarts.add_metric([component["name"]], float(component["restarts"]))
        return [up, state, restarts]

    return read
