"""hub.retries: retry, retry a step, skip a step and re-run as new linked executions, and how
such an execution runs (reused steps, attempts numbered on, a fresh retry budget)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.errors import HubError, IllegalTransition, InputsInvalid, StepFailed, WorkflowInvalid
from hub.expressions import compile_value
from hub.local import MemoryJournal, new_execution, run_in_process
from hub.nodes import NodeCall, NodeResult
from hub.plan import ExecutionPlan, PlanNode
from hub.records import (
    AppendEvent,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
)
from hub.restore import restore
from hub.retries import Derived, derive
from hub.runner import ExecutionRunner

FAST_RETRY = {"max_attempts": 2, "backoff_s": 0.001, "max_backoff_s": 0.002}


def node(node_id: str, type_: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"id": node_id, "type": type_, "parameters": parameters or {}, **extra}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def document(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **top: Any
) -> dict[str, Any]:
    return {"id": "wf", "nodes": nodes, "edges": edges or [], **top}


def compiled(doc: dict[str, Any]) -> ExecutionPlan:
    return compile_workflow(doc).raise_for_errors()


def run(plan: ExecutionPlan, inputs: dict[str, Any] | None = None) -> ExecutionRecord:
    return asyncio.run(run_in_process(plan, inputs))


def steps_by_id(steps: list[StepRecord]) -> dict[str, StepRecord]:
    return {s.node_id: s for s in steps}


# a -> boom -> after, and side alone; boom always fails
FLAKY = document(
    [
        node("a", "set", {"values": {"n": 1}}),
        node("boom", "fail", {"message": "{{ 'bad ' + str($a.n) }}"}),
        node("after", "log", {"message": "after {{ $boom }}"}),
        node("side", "set", {"values": {"s": True}}),
    ],
    [edge("a", "boom"), edge("boom", "after")],
    inputs={"who": {"type": "string", "default": "ada"}},
)


@pytest.fixture
def failed() -> tuple[ExecutionPlan, ExecutionRecord]:
    plan = compiled(FLAKY)
    parent = run(plan)
    assert parent.status == ExecutionStatus.FAILED
    return plan, parent


# --- the new execution ----------------------------------------------------------------------------


def parent_step(record: ExecutionRecord, node_id: str) -> Any:
    return next(s for s in record.steps if s.node_id == node_id)


def test_retry_makes_a_new_queued_execution_linked_to_the_failed_one(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    derived = derive(parent, plan, FLAKY, "retry", trigger="cli")
    record = derived.record
    assert record.id != parent.id
    assert record.parent_id == parent.id
    assert record.status == ExecutionStatus.QUEUED
    assert record.trigger == "cli"
    assert (record.workflow_id, record.workflow_version) == (parent.workflow_id, "1")
    assert record.settings["origin"] == {
        "kind": "retry",
        "execution_id": parent.id,
        "node_id": "boom",
        # the failed step's attempts so far: its new attempts count from here, with a fresh
        # retry budget, even after a crash of the retry
        "attempts_before": {"boom": parent_step(parent, "boom").attempts},
    }
    assert derived.inputs == {"who": "ada"}
    assert derived.seeded


def test_retry_reuses_finished_steps_and_reruns_the_failed_one_after_its_attempts(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    steps = steps_by_id(derive(parent, plan, FLAKY, "retry").record.steps)
    assert set(steps) == {"a", "side", "boom"}
    assert steps["a"] == steps_by_id(parent.steps)["a"]
    assert steps["boom"].status == StepStatus.PENDING
    assert steps["boom"].attempts == 1
    assert steps["boom"].error is None


def test_the_parent_is_left_as_it_was(failed: tuple[ExecutionPlan, ExecutionRecord]) -> None:
    plan, parent = failed
    before = parent.model_dump()
    derive(parent, plan, FLAKY, "retry")
    derive(parent, plan, FLAKY, "skip_step", output={})
    assert parent.model_dump() == before


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("retry", ExecutionStatus.COMPLETED),
        ("retry", ExecutionStatus.RUNNING),
        ("retry_step", ExecutionStatus.QUEUED),
        ("skip_step", ExecutionStatus.CANCELLED),
        ("skip_step", ExecutionStatus.PAUSED),
    ],
)
def test_only_finished_executions_can_be_retried_or_skipped(
    failed: tuple[ExecutionPlan, ExecutionRecord], kind: Any, status: ExecutionStatus
) -> None:
    plan, parent = failed
    with pytest.raises(IllegalTransition) as caught:
        derive(parent.model_copy(update={"status": status}), plan, FLAKY, kind, output={})
    assert caught.value.details["execution_id"] == parent.id


def test_a_cancelled_execution_can_be_retried(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    cancelled = parent.model_copy(update={"status": ExecutionStatus.CANCELLED})
    assert derive(cancelled, plan, FLAKY, "retry").record.parent_id == parent.id


def test_rerun_starts_afresh_with_the_same_inputs(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    completed = parent.model_copy(update={"status": ExecutionStatus.COMPLETED})
    derived = derive(completed, plan, FLAKY, "rerun", inputs={"who": "bob"})
    assert derived.record.steps == []
    assert not derived.seeded
    assert derived.record.settings["origin"] == {"kind": "rerun", "execution_id": parent.id}
    assert derived.inputs == {"who": "bob"}
    assert derived.record.inputs == {"who": "bob"}


def test_rerun_is_allowed_while_the_parent_still_runs(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    running = parent.model_copy(update={"status": ExecutionStatus.RUNNING})
    assert derive(running, plan, FLAKY, "rerun").record.parent_id == parent.id


def test_given_inputs_replace_the_parents_and_are_validated(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    with pytest.raises(InputsInvalid):
        derive(parent, plan, FLAKY, "retry", inputs={"who": 5})
    with pytest.raises(InputsInvalid, match="unknown input"):
        derive(parent, plan, FLAKY, "retry", inputs={"whom": "x"})


def test_a_secret_input_must_be_given_again_and_stays_redacted() -> None:
    doc = document(
        [node("boom", "fail", {"message": "no"})],
        inputs={"token": {"type": "string", "secret": True}, "user": {"type": "string"}},
    )
    plan = compiled(doc)
    parent = run(plan, {"token": "hunter2", "user": "ada"})
    assert parent.inputs["token"] == "***"
    with pytest.raises(InputsInvalid) as caught:
        derive(parent, plan, doc, "retry")
    assert "'token'" in caught.value.message
    assert caught.value.errors == [
        {"path": "/token", "message": "secret input must be given again"}
    ]
    derived = derive(parent, plan, doc, "rerun", inputs={"token": "s3cret"})
    assert derived.inputs == {"token": "s3cret", "user": "ada"}
    assert derived.record.inputs == {"token": "***", "user": "ada"}


def test_settings_are_carried_over_without_breakpoints_or_the_old_origin(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    parent = parent.model_copy(
        update={
            "settings": {
                "enabled_families": ["code"],
                "options": {"debug": True, "breakpoints": [{"node_id": "a"}], "timeout_s": 9},
                "origin": {"kind": "rerun", "execution_id": "older"},
                "overrides": {"boom": {"message": "old"}},
            }
        }
    )
    settings = derive(parent, plan, FLAKY, "retry").record.settings
    assert settings["enabled_families"] == ["code"]
    assert settings["options"] == {"timeout_s": 9}
    assert settings["origin"]["execution_id"] == parent.id
    assert "overrides" not in settings


def test_retrying_a_named_step_reruns_it_and_everything_after_it(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    derived = derive(parent, plan, FLAKY, "retry", node_id="a")
    steps = steps_by_id(derived.record.steps)
    assert set(steps) == {"a", "side"}
    assert steps["a"].status == StepStatus.PENDING
    assert derived.record.settings["origin"]["node_id"] == "a"


def test_a_step_that_does_not_exist_or_did_not_fail_is_refused(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    with pytest.raises(HubError, match="no step 'nope'"):
        derive(parent, plan, FLAKY, "retry", node_id="nope")
    with pytest.raises(HubError, match="did not fail") as caught:
        derive(parent, plan, FLAKY, "skip_step", node_id="a", output={})
    assert "completed" in caught.value.message
    with pytest.raises(HubError, match="not run"):
        derive(parent, plan, FLAKY, "retry_step", node_id="after", parameters={"message": "x"})


def test_skip_step_needs_a_failed_step() -> None:
    doc = document([node("ok", "set")])
    plan = compiled(doc)
    parent = run(plan).model_copy(update={"status": ExecutionStatus.FAILED})
    with pytest.raises(HubError, match="no failed step"):
        derive(parent, plan, doc, "skip_step", output={})


def test_skip_step_records_the_failed_step_as_completed_with_the_given_output(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    derived = derive(parent, plan, FLAKY, "skip_step", output={"n": 99})
    boom = steps_by_id(derived.record.steps)["boom"]
    assert (boom.status, boom.output) == (StepStatus.COMPLETED, {"n": 99})
    assert derived.record.settings["origin"]["output"] == {"n": 99}
    assert derived.record.settings["origin"]["node_id"] == "boom"


def test_retry_step_merges_the_new_parameters_over_the_old(
    failed: tuple[ExecutionPlan, ExecutionRecord],
) -> None:
    plan, parent = failed
    derived = derive(
        parent, plan, FLAKY, "retry_step", parameters={"retryable": True}, node_id="boom"
    )
    assert derived.overrides == {"boom": {"message": "{{ 'bad ' + str($a.n) }}", "retryable": True}}
    assert derived.record.settings["origin"]["parameters"] == {"retryable": True}


@pytest.mark.parametrize(
    "parameters",
    [{"mesage": "typo"}, {"message": "{{ $nowhere.x }}"}, {"message": "{{ 1 + }}"}],
)
def test_retry_step_refuses_parameters_the_workflow_would_not_compile_with(
    failed: tuple[ExecutionPlan, ExecutionRecord], parameters: dict[str, Any]
) -> None:
    plan, parent = failed
    with pytest.raises(WorkflowInvalid) as caught:
        derive(parent, plan, FLAKY, "retry_step", parameters=parameters)
    assert any("/nodes/1/parameters" in d["path"] for d in caught.value.diagnostics)


# --- running what derive made ---------------------------------------------------------------------


class Flaky:
    """Dispatcher for ``http`` nodes that fails retryably ``failures`` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[int] = []

    async def __call__(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        self.attempts.append(call.attempt)
        if len(self.attempts) <= self.failures:
            raise StepFailed(f"down (attempt {call.attempt})", retryable=True)
        return NodeResult(
            output={"status_code": 200, "attempt": call.attempt, "url": call.parameters["url"]}
        )


HTTP = document(
    [
        node("a", "set", {"values": {"n": 1}}),
        node("h", "http", {"url": "http://127.0.0.1:9/{{ $a.n }}"}, retry=FAST_RETRY),
        node("after", "log", {"message": "got {{ $h.attempt }}"}),
    ],
    [edge("a", "h"), edge("h", "after")],
)


def run_derived(
    plan: ExecutionPlan, derived: Derived, dispatch: Flaky, journal: MemoryJournal
) -> ExecutionRecord:
    runner = ExecutionRunner(
        plan,
        derived.record.model_copy(update={"inputs": derived.inputs, "steps": []}),
        dispatch=dispatch,
        journal=journal,
        restored=restore(plan, derived.record.steps) if derived.seeded else None,
        resume_reason="retry",
        overrides={n: compile_value(p) for n, p in derived.overrides.items()},
    )
    return asyncio.run(runner.run())


def run_parent(plan: ExecutionPlan, dispatch: Flaky) -> ExecutionRecord:
    journal = MemoryJournal()
    record, inputs = new_execution(plan, {})
    runner = ExecutionRunner(
        plan, record.model_copy(update={"inputs": inputs}), dispatch=dispatch, journal=journal
    )
    return asyncio.run(runner.run())


def _events(journal: MemoryJournal) -> list[Event]:
    return [w.event for w in journal.writes if isinstance(w, AppendEvent)]


def test_a_retry_runs_only_the_failed_step_on_with_new_attempt_numbers() -> None:
    plan = compiled(HTTP)
    parent = run_parent(plan, Flaky(failures=2))
    assert parent.status == ExecutionStatus.FAILED
    assert steps_by_id(parent.steps)["h"].attempts == 2

    derived = derive(parent, plan, HTTP, "retry")
    dispatch, journal = Flaky(failures=0), MemoryJournal()
    result = run_derived(plan, derived, dispatch, journal)
    assert result.status == ExecutionStatus.COMPLETED, result.error
    assert dispatch.attempts == [3]
    assert result.outputs["after"]["message"] == "got 3"
    assert result.outputs["a"] == parent.outputs["a"]
    started = [e.node_id for e in _events(journal) if e.type == "step_started"]
    assert started == ["h", "after"]  # a was reused, not run again
    first = _events(journal)[0]
    assert first.type == "execution_started"
    assert first.data["reason"] == "retry"
    assert first.data["parent_id"] == parent.id
    assert first.data["reused"] == ["a"]


def test_a_retry_gets_a_fresh_retry_budget() -> None:
    plan = compiled(HTTP)
    parent = run_parent(plan, Flaky(failures=2))
    derived = derive(parent, plan, HTTP, "retry")
    dispatch = Flaky(failures=5)
    result = run_derived(plan, derived, dispatch, MemoryJournal())
    assert result.status == ExecutionStatus.FAILED
    # max_attempts 2 again: attempts 3 and 4, not none and not one
    assert dispatch.attempts == [3, 4]
    h = steps_by_id(result.steps)["h"]
    assert h.attempts == 4
    assert h.error is not None and h.error.attempts == 4


def test_a_retried_step_runs_with_the_replaced_parameters() -> None:
    plan = compiled(HTTP)
    parent = run_parent(plan, Flaky(failures=2))
    derived = derive(
        parent, plan, HTTP, "retry_step", parameters={"url": "http://127.0.0.1:9/v2/{{ $a.n }}"}
    )
    dispatch = Flaky(failures=0)
    result = run_derived(plan, derived, dispatch, MemoryJournal())
    assert result.status == ExecutionStatus.COMPLETED
    assert result.outputs["h"]["url"] == "http://127.0.0.1:9/v2/1"


def test_a_skipped_step_feeds_its_substitute_output_downstream() -> None:
    plan = compiled(HTTP)
    parent = run_parent(plan, Flaky(failures=2))
    derived = derive(parent, plan, HTTP, "skip_step", output={"attempt": "none"})
    dispatch = Flaky(failures=0)
    result = run_derived(plan, derived, dispatch, MemoryJournal())
    assert result.status == ExecutionStatus.COMPLETED
    assert dispatch.attempts == []
    assert result.outputs["after"]["message"] == "got none"
    assert steps_by_id(result.steps)["h"].status == StepStatus.COMPLETED


def test_a_rerun_runs_every_step_again_from_attempt_one() -> None:
    plan = compiled(HTTP)
    parent = run_parent(plan, Flaky(failures=2))
    derived = derive(parent, plan, HTTP, "rerun")
    dispatch, journal = Flaky(failures=0), MemoryJournal()
    result = run_derived(plan, derived, dispatch, journal)
    assert result.status == ExecutionStatus.COMPLETED
    assert dispatch.attempts == [1]
    started = [e.node_id for e in _events(journal) if e.type == "step_started"]
    assert started == ["a", "h", "after"]
