"""Metrics without a cluster: the runner's step observer (hub.runner ``on_step_end``), the
recorders of actors._metrics against Ray's own tag validation, the desktop's metered OCR and
click counting, and docs/metrics.md against the definitions."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors import _metrics
from actors._metrics import (
    SPECS,
    STEP_BOUNDARIES_S,
    DesktopMetrics,
    NodeActorMetrics,
    StepMetrics,
    SupervisorMetrics,
)
from actors.desktop import _MeteredDevices, _RemoteOcr
from hub.compiler import compile_workflow
from hub.desktop import OcrUnavailable
from hub.desktop.pointer import Action, clicks_of
from hub.local import MemoryJournal, dispatch_in_process, new_execution
from hub.nodes import NodeRegistry, NoParameters, default_registry, node_type
from hub.plan import ExecutionPlan
from hub.records import ExecutionRecord, ExecutionStatus, StepStatus
from hub.runner import ExecutionRunner
from tests.prerequisites import missing

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

Observed = tuple[str, str, float]


def plan_of(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    registry: NodeRegistry | None = None,
) -> ExecutionPlan:
    document = {"id": "wf", "nodes": nodes, "edges": edges or []}
    return compile_workflow(document, registry=registry).raise_for_errors()


def runner_for(plan: ExecutionPlan, observed: list[Observed]) -> ExecutionRunner:
    """A runner whose timer ticks by one second per reading, so a step's observed duration is
    the number of readings between its start and its end, whatever the machine's speed."""
    ticks = itertools.count()
    record, validated = new_execution(plan, {})
    return ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": validated}),
        dispatch=dispatch_in_process,
        journal=MemoryJournal(),
        enabled_families=frozenset({"code"}),
        on_step_end=lambda *step: observed.append(step),
        timer=lambda: float(next(ticks)),
    )


def run(plan: ExecutionPlan) -> tuple[ExecutionRecord, list[Observed]]:
    observed: list[Observed] = []
    record = asyncio.run(runner_for(plan, observed).run())
    return record, observed


# --- the runner's step observer ---------------------------------------------------------------


def test_completed_and_failed_steps_are_observed_with_their_type_and_duration() -> None:
    source = "def main(input):\n    return {'n': 1}\n"
    plan = plan_of(
        [
            {"id": "vals", "type": "set", "parameters": {"values": {"n": 1}}},
            {"id": "compute", "type": "code", "parameters": {"source": source}},
            {"id": "check", "type": "condition", "parameters": {"expression": "{{ false }}"}},
            {"id": "never", "type": "log", "parameters": {"message": "skipped"}},
            {"id": "off", "type": "log", "parameters": {"message": "x"}, "disabled": True},
            {"id": "boom", "type": "fail", "parameters": {"message": "no"}},
        ],
        [
            {"from": "vals", "to": "compute"},
            {"from": "compute", "to": "check"},
            {"from": "check", "to": "never", "when": "true"},
            {"from": "check", "to": "off", "when": "false"},
            {"from": "off", "to": "boom"},
        ],
    )
    record, observed = run(plan)
    assert record.status == ExecutionStatus.FAILED
    # One observation per step that ran (an action node dispatched, inline ones run here);
    # the skipped step and the disabled one never ran, so they are not observed.
    assert observed == [
        ("set", "completed", 1.0),
        ("code", "completed", 1.0),
        ("condition", "completed", 1.0),
        ("fail", "failed", 1.0),
    ]


def test_a_retried_step_is_observed_once_from_its_first_attempt() -> None:
    plan = plan_of(
        [
            {
                "id": "flaky",
                "type": "fail",
                "parameters": {"message": "again", "retryable": True},
                "retry": {"max_attempts": 3, "backoff_s": 0.001, "max_backoff_s": 0.001},
            }
        ]
    )
    record, observed = run(plan)
    assert record.steps[0].attempts == 3
    assert observed == [("fail", "failed", 1.0)]


def test_a_cancelled_step_is_observed_as_cancelled() -> None:
    started = asyncio.Event()

    async def hang(params: Any, ctx: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    registry = NodeRegistry()
    for builtin in default_registry().types():
        registry.add(builtin)
    node_type("hang", parameters=NoParameters, inline=True, registry=registry)(hang)
    plan = plan_of([{"id": "h", "type": "hang"}], registry=registry)

    async def cancel_when_started() -> tuple[ExecutionRecord, list[Observed]]:
        observed: list[Observed] = []
        runner = runner_for(plan, observed)
        task = asyncio.create_task(runner.run())
        await started.wait()
        runner.cancel()
        return await task, observed

    record, observed = asyncio.run(cancel_when_started())
    assert record.status == ExecutionStatus.CANCELLED
    assert record.steps[0].status == StepStatus.CANCELLED
    assert observed == [("hang", "cancelled", 1.0)]


# --- recorders (Ray validates tags at each record, cluster or not) ----------------------------


class Recorded:
    """Stands in front of one of this process's real Ray metrics: every record goes on to it
    (so Ray still checks the tags) and is kept here, since Ray's values are read back only
    through a cluster's metrics endpoint (tests/integration/test_metrics.py does that)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.records: list[tuple[str, float, dict[str, str]]] = []

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.metric.inc(value, tags)
        self.records.append(("inc", value, dict(tags or {})))

    def set(self, value: float, tags: dict[str, str] | None = None) -> None:
        self.metric.set(value, tags)
        self.records.append(("set", value, dict(tags or {})))

    def observe(self, value: float, tags: dict[str, str] | None = None) -> None:
        self.metric.observe(value, tags)
        self.records.append(("observe", value, dict(tags or {})))


def recorded(recorder: Any, *attributes: str) -> list[Recorded]:
    fronts = [Recorded(getattr(recorder, name)) for name in attributes]
    for name, front in zip(attributes, fronts, strict=True):
        setattr(recorder, name, front)
    return fronts


def test_step_durations_are_observed_with_their_tags_and_never_below_zero() -> None:
    steps = StepMetrics()
    [duration] = recorded(steps, "duration")
    steps.step_ended("http", "completed", 0.25)
    steps.step_ended("http", StepStatus.FAILED, -0.001)  # a clock step back: clamped
    assert duration.records == [
        ("observe", 0.25, {"node_type": "http", "status": "completed"}),
        ("observe", 0.0, {"node_type": "http", "status": "failed"}),
    ]


def test_only_executions_that_end_are_counted() -> None:
    supervisor = SupervisorMetrics()
    [executions] = recorded(supervisor, "executions")
    for status in ExecutionStatus:
        supervisor.execution_ended("wf", status)
    supervisor.execution_ended("wf", "running")  # a suspended run, as a plain string
    assert executions.records == [
        ("inc", 1, {"workflow": "wf", "status": status})
        for status in ("completed", "failed", "cancelled")
    ]


def test_a_supervisor_sample_sets_every_gauge() -> None:
    supervisor = SupervisorMetrics()
    queue, running, actors, pools = recorded(
        supervisor, "queue_depth", "running", "execution_actors", "pool_size"
    )
    supervisor.sample(
        queue_depth=3,
        running=2,
        pools={"http": 2, "test.echo": 1},
        idle_execution_actors=1,
        busy_execution_actors=2,
    )
    assert queue.records == [("set", 3, {})]
    assert running.records == [("set", 2, {})]
    assert actors.records == [("set", 1, {"state": "idle"}), ("set", 2, {"state": "busy"})]
    assert pools.records == [
        ("set", 2, {"node_type": "http"}),
        ("set", 1, {"node_type": "test.echo"}),
    ]


def test_the_desktop_records_cycles_clicks_and_reads_and_no_click_of_zero() -> None:
    desktop = DesktopMetrics()
    cycles, clicks, reads = recorded(desktop, "cycle", "clicks", "ocr")
    desktop.cycle_done(0.04, dry_run=True, error=False)
    desktop.cycle_done(-0.5, dry_run=False, error=True)
    desktop.clicked("clicker", dry_run=False)
    desktop.clicked("node", dry_run=True, clicks=2)
    desktop.clicked("node", dry_run=True, clicks=0)  # a step that moved without clicking
    desktop.ocr_read("rapidocr", "local", 0.02)
    assert cycles.records == [
        ("observe", 0.04, {"status": "ok", "dry_run": "true"}),
        ("observe", 0.0, {"status": "error", "dry_run": "false"}),
    ]
    assert clicks.records == [
        ("inc", 1, {"source": "clicker", "dry_run": "false"}),
        ("inc", 2, {"source": "node", "dry_run": "true"}),
    ]
    assert reads.records == [("observe", 0.02, {"backend": "rapidocr", "where": "local"})]


def test_a_node_actor_reports_in_flight_calls_and_busy() -> None:
    node = NodeActorMetrics("http", "node-pool:http:1")
    inflight, busy = recorded(node, "inflight_gauge", "busy_gauge")
    node.call_started()
    node.call_started()
    node.call_ended()
    node.call_ended()
    tags = {"node_type": "http", "actor": "node-pool:http:1"}
    assert [r[1] for r in inflight.records] == [1, 2, 1, 0]
    assert [r[1] for r in busy.records] == [1, 1, 1, 0]
    assert all(r[2] == tags for r in inflight.records + busy.records)


def test_a_node_actor_counts_its_calls_in_flight() -> None:
    node = NodeActorMetrics("http", "node-pool:http:1")
    node.call_started()
    node.call_started()
    node.call_ended()
    assert node.inflight == 1
    node.call_ended()
    node.call_ended()  # never below zero
    assert node.inflight == 0


def test_node_actor_gauges_are_set_again_while_nothing_changes() -> None:
    node = NodeActorMetrics("http", "node-pool:http:1")
    reports = 0
    real_report = node.report

    async def refresh_until_three_reports() -> None:
        thrice = asyncio.Event()

        def counting_report() -> None:
            nonlocal reports
            reports += 1
            real_report()
            if reports == 3:
                thrice.set()

        node.report = counting_report  # type: ignore[method-assign]
        task = asyncio.create_task(node.keep_fresh(0.001))
        await thrice.wait()
        task.cancel()

    asyncio.run(asyncio.wait_for(refresh_until_three_reports(), 10))
    assert reports >= 3


def test_gauges_are_refreshed_well_within_the_agents_retention() -> None:
    # The metrics agent keeps a gauge series for two report intervals (at least 1 s each).
    assert 0.5 <= _metrics.gauge_refresh_s() <= 5.0


# --- the desktop: metered OCR, clicks of desktop.click steps ----------------------------------


def test_ocr_engines_of_the_desktop_are_metered_and_read_as_before() -> None:
    np = pytest.importorskip("numpy")
    devices = _MeteredDevices(
        DesktopMetrics(),
        enabled=True,
        dry_run=True,
        max_clicks_per_s=10.0,
        ocr_placement="local",
        remote_ocr=lambda backend, gpus: _RemoteOcr(None, backend),
    )
    try:
        local = devices.ocr("tesseract")
    except OcrUnavailable as exc:  # no tesseract binary here
        missing(str(exc))
    assert (local.name, local.where) == ("tesseract", "local")
    assert devices.ocr("tesseract") is local  # one meter per engine
    blank = np.full((40, 120, 3), 255, dtype=np.uint8)
    result = local.read(blank, allowlist="0123456789")
    assert result.backend == "tesseract"
    assert result.text == ""
    pooled = devices.ocr("easyocr", "pool")
    assert (pooled.name, pooled.where) == ("easyocr", "pool")


def test_clicks_of_a_click_steps_output() -> None:
    def action(kind: str, clicks: int, dry_run: bool) -> dict[str, Any]:
        detail = {"button": "left", "clicks": clicks} if kind == "click" else {}
        done = Action(kind=kind, x=1, y=2, detail=detail, dry_run=dry_run, at=datetime.now(UTC))
        return dict(done.model_dump(mode="json"))

    assert clicks_of(action("click", 2, True)) == (2, True)
    assert clicks_of(action("click", 1, False)) == (1, False)
    assert clicks_of(action("move", 0, False)) == (0, False)
    assert clicks_of(None) == (0, False)


# --- the definitions and their documentation --------------------------------------------------


def test_metric_names_are_valid_and_unique() -> None:
    names = [spec.name for spec in SPECS]
    assert len(set(names)) == len(names)
    for spec in SPECS:
        assert re.fullmatch(r"hub_[a-z_]+", spec.name), spec.name
        assert not spec.name.endswith("_total"), "Ray's exporter appends _total to counters"
        if spec.kind == "histogram":
            assert list(spec.boundaries) == sorted(set(spec.boundaries))
            assert spec.boundaries[0] > 0
    assert (STEP_BOUNDARIES_S[0], STEP_BOUNDARIES_S[-1]) == (0.001, 600.0)


def test_docs_list_every_metric_with_its_tags() -> None:
    docs = DOCS.read_text()
    for spec in SPECS:
        section = re.search(rf"^### `{spec.exported}`$(.*?)(?=^#|\Z)", docs, re.M | re.S)
        assert section is not None, f"docs/metrics.md has no section for {spec.exported}"
        for key in spec.tag_keys:
            assert f"`{key}`" in section.group(1), f"{spec.exported}: tag {key} not documented"
