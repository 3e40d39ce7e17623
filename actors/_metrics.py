"""The runtime's metrics for the Ray dashboard, defined once here (``ray.util.metrics``).

Ray prefixes each custom metric with ``ray_`` and serves it on every node's metrics endpoint;
docs/metrics.md lists them with their tags and example queries. A process creates a metric the
first time one of the recorders below needs it, so an actor pays only for the metrics it
records. Call sites hold a recorder and pass plain values: tag dicts are built once per tag
combination, so recording costs one metric call and no Ray call.

Ray's metrics agent drops a gauge series it has not heard of for two report intervals, and a
process reports only the gauges set since its last report: a gauge that must stay visible while
nothing changes is set again periodically (``keep_fresh``, and the supervisor's sampling).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ray.util.metrics import Counter, Gauge, Histogram

from hub.records import ExecutionStatus

# --- tag keys ---------------------------------------------------------------------------------

WORKFLOW = "workflow"
STATUS = "status"
NODE_TYPE = "node_type"
ACTOR = "actor"
STATE = "state"
SOURCE = "source"
DRY_RUN = "dry_run"
BACKEND = "backend"
WHERE = "where"
KEY = "key"
TO = "to"

# --- bucket boundaries (seconds) --------------------------------------------------------------

STEP_BOUNDARIES_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
"""1 ms to 10 min: from an inline ``set`` to a long HTTP call or code node."""

DESKTOP_BOUNDARIES_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""1 ms to 30 s, finer around the tens of milliseconds a capture, a read or a cycle takes."""

DEFAULT_GAUGE_REFRESH_S = 5.0


# --- the definitions --------------------------------------------------------------------------

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: ``name`` as given to Ray (exported as ``ray_<name>``, counters with
    ``_total`` appended), its kind, unit, tag keys and, for histograms, bucket boundaries."""

    name: str
    kind: Kind
    description: str
    tag_keys: tuple[str, ...]
    boundaries: tuple[float, ...] = ()

    @property
    def exported(self) -> str:
        """The series name on a node's metrics endpoint (histograms add _bucket/_sum/_count;
        a counter gets ``_total`` unless its name ends so already)."""
        if self.kind == "counter" and not self.name.endswith("_total"):
            return f"ray_{self.name}_total"
        return f"ray_{self.name}"

    @property
    def series(self) -> tuple[str, ...]:
        """Every series name it exports."""
        if self.kind == "histogram":
            return tuple(f"{self.exported}_{part}" for part in ("bucket", "sum", "count"))
        return (self.exported,)


EXECUTIONS = MetricSpec(
    "hub_executions",
    "counter",
    "Executions that reached a terminal status (completed, failed, cancelled).",
    (WORKFLOW, STATUS),
)
STEP_DURATION = MetricSpec(
    "hub_step_duration_seconds",
    "histogram",
    "Step duration in seconds, from its first attempt's start to its end (retries included).",
    (NODE_TYPE, STATUS),
    STEP_BOUNDARIES_S,
)
QUEUE_DEPTH = MetricSpec(
    "hub_queue_depth", "gauge", "Executions admitted and waiting for a free slot.", ()
)
RUNNING_EXECUTIONS = MetricSpec(
    "hub_running_executions", "gauge", "Executions running (including paused ones).", ()
)
EXECUTION_ACTORS = MetricSpec(
    "hub_execution_actors",
    "gauge",
    "ExecutionActors by state: idle (warm, ready to lease) or busy (running an execution).",
    (STATE,),
)
POOL_SIZE = MetricSpec("hub_pool_size", "gauge", "Node actors in a node type's pool.", (NODE_TYPE,))
NODE_ACTOR_INFLIGHT = MetricSpec(
    "hub_node_actor_inflight",
    "gauge",
    "Calls running in one node actor (the DesktopActor reports as node_type 'desktop').",
    (NODE_TYPE, ACTOR),
)
NODE_ACTOR_BUSY = MetricSpec(
    "hub_node_actor_busy",
    "gauge",
    "1 while a node actor runs at least one call, else 0 (sum: busy actors; count: actors).",
    (NODE_TYPE, ACTOR),
)
DESKTOP_CYCLE = MetricSpec(
    "hub_desktop_cycle_seconds",
    "histogram",
    "One clicker cycle in seconds: pointer check, capture, OCR when the frame changed, click.",
    (STATUS, DRY_RUN),
    DESKTOP_BOUNDARIES_S,
)
DESKTOP_CLICKS = MetricSpec(
    "hub_desktop_clicks",
    "counter",
    "Mouse clicks made (or, with dry_run, recorded) by clicker sessions or desktop.click steps.",
    (SOURCE, DRY_RUN),
)
OCR_DURATION = MetricSpec(
    "hub_ocr_duration_seconds",
    "histogram",
    "One OCR read in seconds as the desktop waits for it (pool: the OcrActor round trip).",
    (BACKEND, WHERE),
    DESKTOP_BOUNDARIES_S,
)

BREAKER_STATE = MetricSpec(
    "hub_breaker_state",
    "gauge",
    "A circuit breaker's state: 0 closed, 1 half_open, 2 open (hub.breakers).",
    (KEY,),
)
BREAKER_TRANSITIONS = MetricSpec(
    "hub_breaker_transitions",
    "counter",
    "Circuit breaker state changes, by breaker and the state it moved to.",
    (KEY, TO),
)

SPECS: tuple[MetricSpec, ...] = (
    EXECUTIONS,
    STEP_DURATION,
    QUEUE_DEPTH,
    RUNNING_EXECUTIONS,
    EXECUTION_ACTORS,
    POOL_SIZE,
    NODE_ACTOR_INFLIGHT,
    NODE_ACTOR_BUSY,
    DESKTOP_CYCLE,
    DESKTOP_CLICKS,
    OCR_DURATION,
    BREAKER_STATE,
    BREAKER_TRANSITIONS,
)

_created: dict[str, Any] = {}
_lock = threading.Lock()  # OCR reads record from worker threads


def metric(spec: MetricSpec) -> Any:
    """This process's Ray metric for ``spec``, created on first use."""
    found = _created.get(spec.name)
    if found is not None:
        return found
    with _lock:
        found = _created.get(spec.name)
        if found is None:
            found = _created[spec.name] = _build(spec)
        return found


def _build(spec: MetricSpec) -> Any:
    if spec.kind == "counter":
        return Counter(spec.name, description=spec.description, tag_keys=spec.tag_keys)
    if spec.kind == "gauge":
        return Gauge(spec.name, description=spec.description, tag_keys=spec.tag_keys)
    return Histogram(
        spec.name,
        description=spec.description,
        boundaries=list(spec.boundaries),
        tag_keys=spec.tag_keys,
    )


def gauge_refresh_s() -> float:
    """How often a gauge is set again so that it stays visible: half Ray's report interval
    (``RAY_metrics_report_interval_ms``, at least 1 s; the agent keeps a series for two)."""
    try:
        import ray

        interval_ms = float(ray._config.metrics_report_interval_ms())
    except Exception:  # a Ray without this private accessor: the default interval's half
        return DEFAULT_GAUGE_REFRESH_S
    return max(interval_ms, 1000.0) / 2000.0


_TERMINAL = frozenset(s.value for s in ExecutionStatus if s.terminal)


class _TagCache:
    """Tag dicts built once per combination of values (never mutated once handed out)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.tags: dict[tuple[str, ...], dict[str, str]] = {}

    def __call__(self, *values: str) -> dict[str, str]:
        tags = self.tags.get(values)
        if tags is None:
            tags = self.tags[values] = dict(zip(self.keys, values, strict=True))
        return tags


def _flag(value: bool) -> str:
    return "true" if value else "false"


# --- recorders --------------------------------------------------------------------------------


class StepMetrics:
    """Step durations, recorded by the ExecutionActor (hub.runner's ``on_step_end``)."""

    def __init__(self) -> None:
        self.duration = metric(STEP_DURATION)
        self.tags = _TagCache(STEP_DURATION.tag_keys)

    def step_ended(self, node_type: str, status: str, seconds: float) -> None:
        self.duration.observe(max(seconds, 0.0), self.tags(node_type, str(status)))


class NodeActorMetrics:
    """One node actor's in-flight calls and busy flag. Thread-safe: a node actor's calls start
    and end on several threads, and its refresh runs on another."""

    def __init__(self, node_type: str, actor: str) -> None:
        self.inflight_gauge = metric(NODE_ACTOR_INFLIGHT)
        self.busy_gauge = metric(NODE_ACTOR_BUSY)
        self.tags = {NODE_TYPE: node_type, ACTOR: actor}
        self.inflight = 0
        self.lock = threading.Lock()

    def call_started(self) -> None:
        with self.lock:
            self.inflight += 1
            self._report()

    def call_ended(self) -> None:
        with self.lock:
            self.inflight = max(self.inflight - 1, 0)
            self._report()

    def report(self) -> None:
        with self.lock:
            self._report()

    def _report(self) -> None:
        self.inflight_gauge.set(self.inflight, self.tags)
        self.busy_gauge.set(1 if self.inflight else 0, self.tags)

    async def keep_fresh(self, period_s: float | None = None) -> None:
        """Report the gauges every ``period_s`` (default: ``gauge_refresh_s()``), forever."""
        period = period_s if period_s is not None else gauge_refresh_s()
        while True:
            self.report()
            await asyncio.sleep(period)


class SupervisorMetrics:
    """What the supervisor records: executions that end, and samples of its queue and pools."""

    def __init__(self) -> None:
        self.executions = metric(EXECUTIONS)
        self.queue_depth = metric(QUEUE_DEPTH)
        self.running = metric(RUNNING_EXECUTIONS)
        self.execution_actors = metric(EXECUTION_ACTORS)
        self.pool_size = metric(POOL_SIZE)
        self.ended_tags = _TagCache(EXECUTIONS.tag_keys)
        self.pool_tags = _TagCache(POOL_SIZE.tag_keys)
        self.idle_tags = {STATE: "idle"}
        self.busy_tags = {STATE: "busy"}

    def execution_ended(self, workflow_id: str, status: str) -> None:
        """Count an execution that ended; a non-terminal status (a suspended run) is not."""
        value = str(status)
        if value in _TERMINAL:
            self.executions.inc(1, self.ended_tags(workflow_id, value))

    def sample(
        self,
        *,
        queue_depth: int,
        running: int,
        pools: Mapping[str, int],
        idle_execution_actors: int,
        busy_execution_actors: int,
    ) -> None:
        """Set every supervisor gauge; called periodically (at least every couple of
        seconds, so the gauges never age out of the metrics agent)."""
        self.queue_depth.set(queue_depth)
        self.running.set(running)
        self.execution_actors.set(idle_execution_actors, self.idle_tags)
        self.execution_actors.set(busy_execution_actors, self.busy_tags)
        for node_type, size in pools.items():
            self.pool_size.set(size, self.pool_tags(node_type))


class DesktopMetrics:
    """The DesktopActor's clicker cycles, clicks and OCR reads."""

    def __init__(self) -> None:
        self.cycle = metric(DESKTOP_CYCLE)
        self.clicks = metric(DESKTOP_CLICKS)
        self.ocr = metric(OCR_DURATION)
        self.cycle_tags = _TagCache(DESKTOP_CYCLE.tag_keys)
        self.click_tags = _TagCache(DESKTOP_CLICKS.tag_keys)
        self.ocr_tags = _TagCache(OCR_DURATION.tag_keys)

    def cycle_done(self, seconds: float, *, dry_run: bool, error: bool) -> None:
        status = "error" if error else "ok"
        self.cycle.observe(max(seconds, 0.0), self.cycle_tags(status, _flag(dry_run)))

    def clicked(
        self, source: Literal["clicker", "node"], *, dry_run: bool, clicks: int = 1
    ) -> None:
        if clicks > 0:
            self.clicks.inc(clicks, self.click_tags(source, _flag(dry_run)))

    def ocr_read(self, backend: str, where: Literal["local", "pool"], seconds: float) -> None:
        self.ocr.observe(max(seconds, 0.0), self.ocr_tags(backend, where))


class BreakerMetrics:
    """The BreakerActor's breakers: each one's state, and each change of state."""

    def __init__(self) -> None:
        self.state = metric(BREAKER_STATE)
        self.transitions = metric(BREAKER_TRANSITIONS)
        self.key_tags = _TagCache(BREAKER_STATE.tag_keys)
        self.transition_tags = _TagCache(BREAKER_TRANSITIONS.tag_keys)

    def transition(self, key: str, to: str, value: int) -> None:
        """``key`` moved to state ``to`` (whose gauge value is ``value``)."""
        self.transitions.inc(1, self.transition_tags(key, to))
        self.state.set(value, self.key_tags(key))

    def report(self, values: Mapping[str, int]) -> None:
        """Set every breaker's gauge (periodically, so none ages out of the agent)."""
        for key, value in values.items():
            self.state.set(value, self.key_tags(key))
