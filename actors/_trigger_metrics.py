"""The triggers' metrics (docs/metrics.md): fires by type, schedule lag, AMQP messages by
outcome. Defined here as actors/_metrics.py defines the rest (the Grafana dashboard is built
from both); created in the process that records them, the first time it does."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from actors._metrics import MetricSpec, metric

LAG_BOUNDARIES_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip

TYPE = "type"
OUTCOME = "outcome"

TRIGGER_FIRES = MetricSpec(
    "hub_trigger_fires_total",
    "counter",
    "Executions started by triggers (a fire that found its execution already made is counted "
    "again)",
    (TYPE,),
)
TRIGGER_REFUSED = MetricSpec(
    "hub_trigger_refused_total",
    "counter",
    "Trigger fires the runtime refused (invalid inputs, a workflow gone)",
    (TYPE,),
)
SCHEDULE_LAG = MetricSpec(
    "hub_schedule_lag_seconds",
    "histogram",
    "From a schedule's slot to its execution being created",
    (),
    LAG_BOUNDARIES_S,
)
AMQP_MESSAGES = MetricSpec(
    "hub_amqp_messages_total",
    "counter",
    "AMQP messages consumed, by outcome (started, duplicate, dead_lettered)",
    (OUTCOME,),
)

TRIGGER_SPECS: tuple[MetricSpec, ...] = (
    TRIGGER_FIRES,
    TRIGGER_REFUSED,
    SCHEDULE_LAG,
    AMQP_MESSAGES,
)


class TriggerMetrics:
    @cached_property
    def _fires(self) -> Any:
        return metric(TRIGGER_FIRES)

    @cached_property
    def _refused(self) -> Any:
        return metric(TRIGGER_REFUSED)

    @cached_property
    def _lag(self) -> Any:
        return metric(SCHEDULE_LAG)

    @cached_property
    def _amqp(self) -> Any:
        return metric(AMQP_MESSAGES)

    def fired(self, kind: str) -> None:
        self._fires.inc(1.0, tags={TYPE: kind})

    def refused(self, kind: str) -> None:
        self._refused.inc(1.0, tags={TYPE: kind})

    def schedule_lag(self, seconds: float) -> None:
        self._lag.observe(max(0.0, seconds))

    def amqp_message(self, outcome: str) -> None:
        self._amqp.inc(1.0, tags={OUTCOME: outcome})
