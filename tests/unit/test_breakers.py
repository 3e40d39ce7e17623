"""Circuit breakers without Ray (hub.breakers, hub.run_breakers): the state machine on a clock
the test moves, the keys, the settings' validation, the severity table, and an execution's calls
through the breakers with the real runner running nodes in this process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from hub.breakers import (
    BreakerBoard,
    BreakerSettings,
    BreakerState,
    Outcome,
    effective_breaker,
    http_key,
    step_key,
    workflow_key,
)
from hub.compiler import compile_workflow
from hub.errors import SEVERITY, ErrorCategory, InvalidRequest, NotFound, Severity, severity_of
from hub.local import MemoryJournal, dispatch_in_process, new_execution
from hub.nodes import NodeCall, NodeResult
from hub.overrides import apply_settings, effective_settings
from hub.plan import ExecutionPlan, PlanNode
from hub.records import AppendEvent, ErrorInfo, ExecutionRecord, StepRecord, StoreWrite
from hub.run_breakers import LocalBreakers, RunBreakers, counts_against
from hub.runner import ExecutionRunner
from hub.settings import RuntimeSettings, settings_from_env, with_changes
from hub.views import execution_json

KEY = "http:example.test:80"
FAIL = Outcome(ok=False, error="connection refused")
OK = Outcome(ok=True)


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def board_with(clock: Clock) -> tuple[BreakerBoard, list[tuple[str, BreakerState]]]:
    moves: list[tuple[str, BreakerState]] = []
    board = BreakerBoard(clock=clock, on_transition=lambda k, s: moves.append((k, s)))
    return board, moves


SETTINGS = BreakerSettings(
    enabled=True, failure_threshold=3, window_s=10, reset_timeout_s=5, half_open_max_calls=1
)


def opened(board: BreakerBoard, settings: BreakerSettings = SETTINGS) -> None:
    for _ in range(settings.failure_threshold):
        board.record(KEY, settings, FAIL)


# --- the state machine ------------------------------------------------------------------------


def test_failures_below_the_threshold_keep_it_closed_and_the_threshold_opens_it() -> None:
    clock = Clock()
    board, moves = board_with(clock)
    for _ in range(2):
        assert board.record(KEY, SETTINGS, FAIL) == BreakerState.CLOSED
        assert board.acquire(KEY, SETTINGS).allowed
    assert board.record(KEY, SETTINGS, FAIL) == BreakerState.OPEN
    assert moves == [(KEY, BreakerState.OPEN)]
    refused = board.acquire(KEY, SETTINGS)
    assert not refused.allowed
    assert refused.state == BreakerState.OPEN
    assert refused.probe_at is not None
    assert refused.probe_at.timestamp() == pytest.approx(clock.now + SETTINGS.reset_timeout_s)
    message = refused.refusal("the call was not made")
    assert KEY in message
    assert "connection refused" in message
    assert refused.probe_at.isoformat(timespec="milliseconds").replace("+00:00", "Z") in message


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    board.record(KEY, SETTINGS, FAIL)
    board.record(KEY, SETTINGS, FAIL)
    clock.advance(SETTINGS.window_s + 0.1)  # both fall out of the window
    assert board.record(KEY, SETTINGS, FAIL) == BreakerState.CLOSED
    assert board.views()[0].failures == 1
    clock.advance(SETTINGS.window_s / 2)
    board.record(KEY, SETTINGS, FAIL)
    assert board.record(KEY, SETTINGS, FAIL) == BreakerState.OPEN  # three within the window


def test_successes_while_closed_do_not_forgive_failures_in_the_window() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    for _ in range(2):
        board.record(KEY, SETTINGS, FAIL)
        board.record(KEY, SETTINGS, OK)
    assert board.record(KEY, SETTINGS, FAIL) == BreakerState.OPEN


def test_after_the_reset_timeout_one_probe_goes_through_and_its_success_closes_it() -> None:
    clock = Clock()
    board, moves = board_with(clock)
    opened(board)
    clock.advance(SETTINGS.reset_timeout_s - 0.01)
    assert not board.acquire(KEY, SETTINGS).allowed
    clock.advance(0.01)
    probe = board.acquire(KEY, SETTINGS)
    assert probe.allowed and probe.state == BreakerState.HALF_OPEN and probe.token
    second = board.acquire(KEY, SETTINGS)  # half_open_max_calls = 1: one probe at a time
    assert not second.allowed and second.state == BreakerState.HALF_OPEN
    assert "half-open" in second.refusal("the call was not made")
    assert board.record(KEY, SETTINGS, Outcome(ok=True, token=probe.token)) == BreakerState.CLOSED
    assert moves == [
        (KEY, BreakerState.OPEN),
        (KEY, BreakerState.HALF_OPEN),
        (KEY, BreakerState.CLOSED),
    ]
    view = board.views()[0]
    assert view.failures == 0 and view.opened_at is None
    assert board.acquire(KEY, SETTINGS).allowed


def test_a_failed_probe_opens_it_again_for_another_reset_timeout() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    clock.advance(SETTINGS.reset_timeout_s)
    probe = board.acquire(KEY, SETTINGS)
    clock.advance(1)
    failed = Outcome(ok=False, token=probe.token, error="still down")
    assert board.record(KEY, SETTINGS, failed) == BreakerState.OPEN
    refused = board.acquire(KEY, SETTINGS)
    assert not refused.allowed
    assert refused.probe_at is not None
    assert refused.probe_at.timestamp() == pytest.approx(clock.now + SETTINGS.reset_timeout_s)
    assert "still down" in refused.refusal("x")


def test_half_open_max_calls_probes_go_through_at_once() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    settings = SETTINGS.model_copy(update={"half_open_max_calls": 2})
    opened(board, settings)
    clock.advance(settings.reset_timeout_s)
    first, second, third = (board.acquire(KEY, settings) for _ in range(3))
    assert first.allowed and second.allowed and not third.allowed
    assert first.token != second.token
    assert board.views()[0].probes_in_flight == 2
    board.release(KEY, str(first.token))  # cancelled: its slot is free, the state unchanged
    assert board.views()[0].state == BreakerState.HALF_OPEN
    assert board.acquire(KEY, settings).allowed


def test_only_probes_move_a_half_open_breaker() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    board.record(KEY, SETTINGS, OK)  # a call let through before it opened: no news
    assert board.views()[0].state == BreakerState.OPEN
    clock.advance(SETTINGS.reset_timeout_s)
    probe = board.acquire(KEY, SETTINGS)
    assert board.record(KEY, SETTINGS, OK) == BreakerState.HALF_OPEN
    assert board.record(KEY, SETTINGS, FAIL) == BreakerState.HALF_OPEN
    assert board.record(KEY, SETTINGS, Outcome(ok=True, token=probe.token)) == BreakerState.CLOSED


def test_a_probe_that_never_reports_is_presumed_lost_after_the_reset_timeout() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    clock.advance(SETTINGS.reset_timeout_s)
    lost = board.acquire(KEY, SETTINGS)
    clock.advance(SETTINGS.reset_timeout_s)
    probe = board.acquire(KEY, SETTINGS)
    assert probe.allowed and probe.token != lost.token
    late = Outcome(ok=False, token=lost.token, error="late")
    assert board.record(KEY, SETTINGS, late) == BreakerState.HALF_OPEN  # changes nothing
    assert board.record(KEY, SETTINGS, Outcome(ok=True, token=probe.token)) == BreakerState.CLOSED


def test_reset_closes_one_or_every_breaker_and_an_unknown_key_is_not_found() -> None:
    clock = Clock()
    board, moves = board_with(clock)
    opened(board)
    board.record("node:wf:a", SETTINGS, FAIL)
    view = board.reset(KEY)
    assert view.state == BreakerState.CLOSED and view.failures == 0
    assert moves[-1] == (KEY, BreakerState.CLOSED)
    assert board.acquire(KEY, SETTINGS).allowed
    opened(board)
    assert board.reset_all() == [KEY]  # the keys that were not closed
    assert {v.key: v.state for v in board.views()} == {
        KEY: BreakerState.CLOSED,
        "node:wf:a": BreakerState.CLOSED,
    }
    with pytest.raises(NotFound, match="no circuit breaker 'http:nowhere:1'"):
        board.reset("http:nowhere:1")


def test_the_summary_counts_by_state_and_names_open_keys() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    board.record("node:wf:a", SETTINGS, FAIL)
    summary = board.summary()
    assert (summary.closed, summary.half_open, summary.open) == (1, 0, 1)
    assert summary.open_keys == [KEY]
    clock.advance(SETTINGS.reset_timeout_s)
    assert board.summary().half_open_keys == [KEY]  # time alone moves it


def test_the_latest_callers_settings_apply() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    quick = SETTINGS.model_copy(update={"reset_timeout_s": 0.5})
    clock.advance(0.5)
    assert board.acquire(KEY, quick).allowed


def test_idle_closed_breakers_are_forgotten_past_the_key_limit() -> None:
    clock = Clock()
    board = BreakerBoard(clock=clock, max_keys=10)
    opened(board)
    for i in range(30):
        clock.advance(1)
        board.acquire(f"node:wf:n{i}", SETTINGS)
    assert len(board.breakers) <= 10
    assert KEY in board.breakers  # an open one is never forgotten


class Front:
    """Passes each record on to a real Ray metric (so Ray checks the tags) and keeps it."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.records: list[tuple[str, float, dict[str, str]]] = []

    def inc(self, value: float, tags: dict[str, str]) -> None:
        self.metric.inc(value, tags)
        self.records.append(("inc", value, dict(tags)))

    def set(self, value: float, tags: dict[str, str]) -> None:
        self.metric.set(value, tags)
        self.records.append(("set", value, dict(tags)))


def test_transitions_are_counted_and_the_state_gauge_follows() -> None:
    from actors._metrics import BreakerMetrics
    from hub.breakers import STATE_VALUE

    metrics = BreakerMetrics()
    state, transitions = Front(metrics.state), Front(metrics.transitions)
    metrics.state, metrics.transitions = state, transitions
    clock = Clock()
    board = BreakerBoard(
        clock=clock, on_transition=lambda k, s: metrics.transition(k, s.value, STATE_VALUE[s])
    )
    opened(board)
    clock.advance(SETTINGS.reset_timeout_s)
    board.tick()
    board.reset(KEY)
    assert transitions.records == [
        ("inc", 1, {"key": KEY, "to": to}) for to in ("open", "half_open", "closed")
    ]
    assert [value for _, value, _ in state.records] == [2, 1, 0]
    metrics.report({KEY: 0, "node:wf:a": 2})
    assert state.records[-2:] == [("set", 0, {"key": KEY}), ("set", 2, {"key": "node:wf:a"})]


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://127.0.0.1:8080/users/1?x=1", "http:127.0.0.1:8080"),
        ("https://API.example.com/v1", "http:api.example.com:443"),
        ("http://example.com", "http:example.com:80"),
        ("http://user:pw@example.com:81/", "http:example.com:81"),
        ("http://[::1]:9000/x", "http:[::1]:9000"),
        ("ftp://example.com/", None),
        ("http:///nohost", None),
        ("http://example.com:99999/", None),
    ],
)
def test_an_http_target_is_its_host_and_port(url: str, key: str | None) -> None:
    assert http_key(url) == key


def test_step_keys_by_node_type() -> None:
    params = {"url": "http://10.0.0.1:81/x"}
    assert step_key("wf", "fetch", "http", None, params) == "http:10.0.0.1:81"
    assert step_key("wf", "calc", "code", "code", {}) == "node:wf:calc"
    assert step_key("wf", "sh", "shell", "shell", {}) == "node:wf:sh"
    assert step_key("wf", "other", "test.echo", None, {}) is None
    assert workflow_key("wf") == "workflow:wf"


def test_which_failures_count_against_a_target() -> None:
    assert counts_against("connection", retryable=True)
    assert counts_against("timeout", retryable=True)
    assert counts_against("node_error", retryable=False)
    assert counts_against("http_status", retryable=True)  # 5xx, 429
    assert not counts_against("http_status", retryable=False)  # 4xx: the target answered
    assert not counts_against("validation", retryable=False)
    assert not counts_against("circuit_open", retryable=True)


# --- settings ---------------------------------------------------------------------------------


def diagnostics_of(circuit_breaker: Any) -> list[tuple[str, str]]:
    doc = {
        "id": "wf",
        "settings": {"circuit_breaker": circuit_breaker},
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {}}}],
    }
    return [(d.path, d.message) for d in compile_workflow(doc).diagnostics]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("failure_threshold", 0, "greater than or equal to 1"),
        ("failure_threshold", 10_001, "less than or equal to 10000"),
        ("window_s", 0, "greater than 0"),
        ("reset_timeout_s", -1, "greater than 0"),
        ("half_open_max_calls", 0, "greater than or equal to 1"),
        ("enabled", "maybe", "valid boolean"),
    ],
)
def test_out_of_bounds_breaker_settings_are_diagnosed_at_their_path(
    field: str, value: Any, says: str
) -> None:
    ((path, message),) = diagnostics_of({"enabled": True, field: value})
    assert path == f"/settings/circuit_breaker/{field}"
    assert says in message


def test_an_unknown_breaker_key_names_the_close_one() -> None:
    ((path, message),) = diagnostics_of({"enabled": True, "failure_treshold": 2})
    assert path == "/settings/circuit_breaker"
    assert "unknown key 'failure_treshold'" in message
    assert "did you mean 'failure_threshold'?" in message


def test_a_valid_breaker_block_compiles_into_the_plan() -> None:
    assert diagnostics_of({"enabled": True, "failure_threshold": 2}) == []


def test_runtime_breaker_settings_from_the_environment_and_the_api() -> None:
    assert settings_from_env({}).circuit_breaker == BreakerSettings()  # off by default
    env = settings_from_env(
        {
            "HUB_CIRCUIT_BREAKER": '{"enabled": true, "window_s": 5}',
            "HUB_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "3",
        }
    )
    assert env.circuit_breaker == BreakerSettings(enabled=True, window_s=5, failure_threshold=3)
    changed = with_changes(RuntimeSettings(), {"circuit_breaker": {"enabled": True}})
    assert changed.circuit_breaker.enabled
    with pytest.raises(InvalidRequest) as caught:
        with_changes(RuntimeSettings(), {"circuit_breaker": {"reset_timeout_s": 0}})
    assert caught.value.details["errors"][0]["path"] == "/circuit_breaker/reset_timeout_s"
    with pytest.raises(ValidationError):
        BreakerSettings(half_open_max_calls=1001)


def test_a_run_gets_the_runtimes_breaker_settings_under_the_documents() -> None:
    doc: dict[str, Any] = {"id": "wf", "nodes": [{"id": "a", "type": "set"}]}
    off = RuntimeSettings()
    on = RuntimeSettings(circuit_breaker=BreakerSettings(enabled=True, failure_threshold=7))
    # Nothing asked, nothing on: the definition runs unchanged.
    assert apply_settings(doc, effective_settings(doc, off, None)) == doc
    runtime_on = apply_settings(doc, effective_settings(doc, on, None))
    assert runtime_on["settings"]["circuit_breaker"]["failure_threshold"] == 7
    opted = {**doc, "settings": {"circuit_breaker": {"enabled": True, "reset_timeout_s": 2}}}
    merged = apply_settings(opted, effective_settings(opted, on, None))["settings"]
    assert merged["circuit_breaker"] == {**on.circuit_breaker.model_dump(), "reset_timeout_s": 2}
    opted_out = {**doc, "settings": {"circuit_breaker": {"enabled": False}}}
    plan = compile_workflow(
        apply_settings(opted_out, effective_settings(opted_out, on, None))
    ).raise_for_errors()
    assert plan.settings.circuit_breaker is not None
    assert not plan.settings.circuit_breaker.enabled
    assert effective_breaker(off.circuit_breaker, None) is None


# --- severity ---------------------------------------------------------------------------------


def test_every_category_has_a_severity() -> None:
    assert set(SEVERITY) == set(ErrorCategory)
    assert severity_of("circuit_open") == Severity.MEDIUM
    assert severity_of("resource_limit") == Severity.CRITICAL
    assert severity_of("connection") == Severity.HIGH
    assert severity_of("cancelled") == Severity.LOW
    assert severity_of("a category of a newer version") == Severity.MEDIUM


def test_error_records_carry_the_severity_of_their_category() -> None:
    error = ErrorInfo(message="refused", category="connection")
    assert error.severity == Severity.HIGH
    assert error.model_dump(mode="json")["severity"] == "high"
    # Stored before severity existed: it loads, with the category's severity.
    stored = ErrorInfo.model_validate_json('{"message": "m", "category": "validation"}')
    assert stored.severity == Severity.LOW
    # Derived, whatever a record says.
    assert ErrorInfo(message="m", category="timeout", severity="critical").severity == "medium"


def test_hub_show_json_prints_the_severity_of_step_and_execution_errors() -> None:
    error = ErrorInfo(message="refused", category="connection", node_id="a")
    record = ExecutionRecord(
        id="e1",
        workflow_id="wf",
        workflow_version="1",
        status="failed",
        error=error,
        steps=[StepRecord(node_id="a", node_type="http", status="failed", error=error)],
    )
    shown = execution_json(record)
    assert shown["error"]["severity"] == "high"
    assert shown["steps"][0]["error"]["severity"] == "high"


# --- an execution's calls through the breakers ------------------------------------------------

CODE = (
    "def main(input):\n"
    "    if input['fail']:\n"
    "        raise RuntimeError('target down')\n"
    "    return {'ok': True}\n"
)


def code_plan(
    *,
    threshold: int = 2,
    retry: dict[str, Any] | None = None,
    error_edge: bool = False,
    node_type: str = "code",
) -> ExecutionPlan:
    work: dict[str, Any] = {
        "id": "work",
        "type": node_type,
        "parameters": {"source": CODE, "input": {"fail": "{{ $input.fail }}"}},
    }
    if node_type == "fail":
        work["parameters"] = {"message": "broken"}
    nodes: list[dict[str, Any]] = [work]
    edges: list[dict[str, Any]] = []
    if retry:
        work["retry"] = retry
    if error_edge:
        work["on_error"] = "branch"
        nodes.append(
            {
                "id": "fallback",
                "type": "set",
                "parameters": {"values": {"why": "{{ $work.error.category }}"}},
            }
        )
        edges.append({"from": "work", "to": "fallback", "when": "error"})
    doc = {
        "id": "wf",
        "inputs": {"fail": {"type": "boolean", "default": False}},
        "settings": {
            "circuit_breaker": {
                "enabled": True,
                "failure_threshold": threshold,
                "window_s": 60,
                "reset_timeout_s": 10,
            }
        },
        "nodes": nodes,
        "edges": edges,
    }
    return compile_workflow(doc).raise_for_errors()


class Calls:
    """The dispatcher that runs nodes here, counting the calls that reach them."""

    def __init__(self) -> None:
        self.made: list[str] = []

    async def __call__(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        self.made.append(call.node_id)
        return await dispatch_in_process(node, call, timeout_s)


class ClockJournal(MemoryJournal):
    """A memory journal that moves the clock on when a step is about to be retried."""

    def __init__(self, clock: Clock, retry_after_s: float) -> None:
        super().__init__()
        self.clock, self.retry_after_s = clock, retry_after_s

    def emit(self, write: StoreWrite) -> None:
        super().emit(write)
        if isinstance(write, AppendEvent) and write.event.type == "step_retrying":
            self.clock.advance(self.retry_after_s)


def execute(
    plan: ExecutionPlan,
    board: BreakerBoard,
    calls: Calls,
    *,
    fail: bool,
    journal: MemoryJournal | None = None,
) -> ExecutionRecord:
    """What an ExecutionActor does with a workflow that has breakers on (actors.execution)."""

    async def go() -> ExecutionRecord:
        breakers = RunBreakers.of(plan, LocalBreakers(board))
        assert breakers is not None
        admission = await breakers.admit(fresh=True)
        record, inputs = new_execution(plan, {"fail": fail})
        runner = ExecutionRunner(
            plan,
            record.model_copy(update={"inputs": inputs}),
            dispatch=breakers.guard(calls),
            journal=journal or MemoryJournal(),
            enabled_families=frozenset({"code"}),
            refused=admission.refusal,
        )
        ended = await runner.run()
        await breakers.ended(admission, ended.status.value, ended.error)
        return ended

    return asyncio.run(go())


def step_error(record: ExecutionRecord) -> ErrorInfo:
    step = next(s for s in record.steps if s.node_id == "work")
    assert step.error is not None
    return step.error


def test_an_open_breaker_fails_the_step_at_once_without_calling_it() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    calls = Calls()
    plan = code_plan()
    for _ in range(2):
        failed = execute(plan, board, calls, fail=True)
        assert step_error(failed).category == "node_error"
    assert calls.made == ["work", "work"]
    assert board.views()[0].key == "node:wf:work"
    refused = execute(plan, board, calls, fail=False)
    assert refused.status == "failed"
    error = step_error(refused)
    assert error.category == "circuit_open"
    assert error.retryable
    assert error.severity == Severity.MEDIUM
    assert "circuit breaker node:wf:work is open" in error.message
    assert "the call was not made" in error.message
    assert calls.made == ["work", "work"]  # the target was not called
    # The step's breaker counted those failures: the workflow's did not count them again.
    assert {v.key: v.state for v in board.views()} == {
        "node:wf:work": BreakerState.OPEN,
        "workflow:wf": BreakerState.CLOSED,
    }
    clock.advance(10)
    probed = execute(plan, board, calls, fail=False)
    assert probed.status == "completed"
    assert calls.made == ["work", "work", "work"]
    assert board.views()[1].state == BreakerState.CLOSED


def test_a_retry_policy_retries_circuit_open_and_a_later_attempt_may_be_the_probe() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    calls = Calls()
    for _ in range(2):
        execute(code_plan(), board, calls, fail=True)
    retry = {"max_attempts": 3, "backoff_s": 0, "jitter": False}
    refused = execute(code_plan(retry=retry), board, calls, fail=False)
    assert step_error(refused).category == "circuit_open"
    assert step_error(refused).attempts == 3  # every attempt refused, none reached the node
    assert calls.made == ["work", "work"]
    # The clock passes the reset timeout while the step waits to retry: attempt 2 probes.
    journal = ClockJournal(clock, retry_after_s=10)
    probed = execute(code_plan(retry=retry), board, calls, fail=False, journal=journal)
    assert probed.status == "completed"
    assert next(s for s in probed.steps if s.node_id == "work").attempts == 2
    assert calls.made == ["work", "work", "work"]
    assert {v.key: v.state for v in board.views()}["node:wf:work"] == BreakerState.CLOSED


def test_the_error_edge_is_taken_on_circuit_open() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    calls = Calls()
    for _ in range(2):
        execute(code_plan(error_edge=True), board, calls, fail=True)
    record = execute(code_plan(error_edge=True), board, calls, fail=False)
    assert record.status == "completed"
    assert record.outputs["fallback"] == {"why": "circuit_open"}
    assert calls.made == ["work", "work"]


def test_an_open_workflow_breaker_fails_a_new_execution_at_its_start() -> None:
    clock = Clock()
    board, _ = board_with(clock)
    calls = Calls()
    plan = code_plan(node_type="fail")  # an inline node: no breaker of its own
    for _ in range(2):
        assert execute(plan, board, calls, fail=True).error is not None
    refused = execute(plan, board, calls, fail=False)
    assert refused.status == "failed"
    assert refused.steps == []  # nothing ran
    assert refused.error is not None
    assert refused.error.category == "circuit_open"
    assert refused.error.node_id is None
    assert "circuit breaker workflow:wf is open" in refused.error.message
    assert "the execution was not started" in refused.error.message
    clock.advance(10)
    probe = execute(plan, board, calls, fail=False)  # runs, fails: open again
    assert probe.steps and probe.status == "failed"
    assert board.views()[0].state == BreakerState.OPEN


def test_a_workflow_without_breakers_makes_no_breaker_call() -> None:
    plan = compile_workflow({"id": "wf", "nodes": [{"id": "a", "type": "set"}]}).raise_for_errors()
    assert RunBreakers.of(plan, LocalBreakers(BreakerBoard())) is None
    off = compile_workflow(
        {
            "id": "wf",
            "settings": {"circuit_breaker": {"enabled": False}},
            "nodes": [{"id": "a", "type": "set"}],
        }
    ).raise_for_errors()
    assert RunBreakers.of(off, LocalBreakers(BreakerBoard())) is None


# --- the CLI's words --------------------------------------------------------------------------


def test_hub_status_and_breakers_ls_describe_breakers(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main
    from hub.cli_breakers import describe, status_line

    clock = Clock()
    board, _ = board_with(clock)
    opened(board)
    [view] = board.views()
    line = describe(view)
    assert line.startswith(f"{KEY}  open  3/3 failures in 10s  probe at ")
    assert "last error: connection refused" in line
    summary = board.summary().model_dump(mode="json")
    assert status_line(summary) == f"  breakers: 1 open, 0 half-open, 0 closed (open: {KEY})"
    assert status_line(None) == "  breakers: none"
    # Neither a key nor --all, or both: bad usage, before any runtime is asked.
    assert main(["breakers", "reset"]) == 2
    assert main(["breakers", "reset", KEY, "--all"]) == 2
    assert "give a breaker KEY or --all" in capsys.readouterr().err
