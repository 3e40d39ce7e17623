"""The triggers' metrics (docs/metrics.md): fires by type, schedule lag, AMQP messages by
outcome. Created in the process that records them, the first time it does."""

from __future__ import annotations

from functools import cached_property

from ray.util.metrics import Counter, Histogram

LAG_BOUNDARIES_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip


class TriggerMetrics:
    @cached_property
    def _fires(self) -> Counter:
        return Counter(
            "hub_trigger_fires_total",
            description="Executions started by triggers (a fire that found its execution "
            "already made is counted again)",
            tag_keys=("type",),
        )

    @cached_property
    def _refused(self) -> Counter:
        return Counter(
            "hub_trigger_refused_total",
            description="Trigger fires the runtime refused (invalid inputs, a workflow gone)",
            tag_keys=("type",),
        )

    @cached_property
    def _lag(self) -> Histogram:
        return Histogram(
            "hub_schedule_lag_seconds",
            description="From a schedule's slot to its execution being created",
            boundaries=list(LAG_BOUNDARIES_S),
        )

    @cached_property
    def _amqp(self) -> Counter:
        return Counter(
            "hub_amqp_messages_total",
            description="AMQP messages consumed, by outcome (started, duplicate, dead_lettered)",
            tag_keys=("outcome",),
        )

    def fired(self, kind: str) -> None:
        self._fires.inc(1.0, tags={"type": kind})

    def refused(self, kind: str) -> None:
        self._refused.inc(1.0, tags={"type": kind})

    def schedule_lag(self, seconds: float) -> None:
        self._lag.observe(max(0.0, seconds))

    def amqp_message(self, outcome: str) -> None:
        self._amqp.inc(1.0, tags={"outcome": outcome})
