"""hub.restore: replaying stored steps (crash recovery) and choosing what a retry reuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.compiler import compile_workflow
from hub.local import MemoryJournal, dispatch_in_process, new_execution, run_in_process
from hub.plan import ExecutionPlan
from hub.records import (
    AppendEvent,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
)
from hub.restore import restore, reusable_steps
from hub.runner import ExecutionRunner

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def node(node_id: str, type_: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"id": node_id, "type": type_, "parameters": parameters or {}, **extra}


def setter(node_id: str, **values: Any) -> dict[str, Any]:
    return node(node_id, "set", {"values": values})


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def plan_of(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None
) -> ExecutionPlan:
    document = {"id": "wf", "nodes": nodes, "edges": edges or []}
    return compile_workflow(document).raise_for_errors()


def stored(
    node_id: str,
    status: StepStatus,
    output: Any = None,
    *,
    attempts: int = 1,
    node_type: str = "set",
    error: ErrorInfo | None = None,
    ended: bool = True,
) -> StepRecord:
    return StepRecord(
        node_id=node_id,
        node_type=node_type,
        status=status,
        attempts=attempts,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=1) if ended else None,
        input={"values": output} if output is not None else None,
        output=output,
        error=error,
    )


def done(node_id: str, output: Any = None, **kw: Any) -> StepRecord:
    return stored(node_id, StepStatus.COMPLETED, output if output is not None else {}, **kw)


def failure(node_id: str, message: str = "boom", attempts: int = 1) -> ErrorInfo:
    return ErrorInfo(message=message, category="node_error", attempts=attempts, node_id=node_id)


# a -> b -> c, and d alone
CHAIN = [setter("a", v=1), setter("b", v=2), setter("c", v=3), setter("d", v=4)]
CHAIN_EDGES = [edge("a", "b"), edge("b", "c")]


# --- replay ---------------------------------------------------------------------------------------


def test_nothing_stored_means_the_start_nodes_run_next() -> None:
    restored = restore(plan_of(CHAIN, CHAIN_EDGES), [])
    assert restored.frontier == ["a", "d"]
    assert restored.reused == []
    assert restored.halted is None
    assert not restored.finished


def test_completed_steps_are_reused_and_the_next_ones_form_the_frontier() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    restored = restore(plan, [done("a", {"v": 1}), done("d", {"v": 4})])
    assert restored.frontier == ["b"]
    assert sorted(restored.reused) == ["a", "d"]
    assert restored.state.outputs == {"a": {"v": 1}, "d": {"v": 4}}
    assert restored.state.steps["a"].status == StepStatus.COMPLETED
    assert restored.state.steps["b"].status == StepStatus.PENDING
    assert restored.state.upstream_outputs("b") == {"a": {"v": 1}}
    assert not restored.finished


def test_a_fully_stored_execution_is_finished() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    steps = [done(n, {"v": i}) for i, n in enumerate("abcd")]
    restored = restore(plan, steps)
    assert restored.frontier == []
    assert restored.finished
    assert sorted(restored.reused) == ["a", "b", "c", "d"]


def test_reused_steps_keep_their_stored_times_attempts_and_input() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    restored = restore(plan, [done("a", {"v": 1}, attempts=2)])
    a = restored.state.steps["a"]
    assert a.attempts == 2
    assert a.started_at == T0
    assert a.ended_at == T0 + timedelta(seconds=1)
    assert a.input == {"values": {"v": 1}}


def test_an_in_flight_step_runs_again_with_the_same_attempt_number() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    in_flight = stored("b", StepStatus.RUNNING, attempts=2, ended=False)
    restored = restore(plan, [done("a"), done("d"), in_flight])
    assert restored.frontier == ["b"]
    assert "b" not in restored.reused
    b = restored.state.steps["b"]
    assert b.retry_base == 0  # the old retry budget goes on
    assert restored.state.mark_running("b", T0 + timedelta(hours=1)) == 2
    assert b.started_at == T0  # the step started before the crash


def test_a_cancelled_step_runs_again_with_the_same_attempt_number() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    cancelled = stored("a", StepStatus.CANCELLED, attempts=1)
    restored = restore(plan, [cancelled])
    assert restored.frontier == ["a", "d"]
    assert restored.state.mark_running("a", T0) == 1


def test_a_step_seeded_by_a_retry_numbers_new_attempts_after_the_old_ones() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    seeded = stored("b", StepStatus.PENDING, attempts=3, ended=False)
    restored = restore(plan, [done("a"), done("d"), seeded])
    assert restored.frontier == ["b"]
    b = restored.state.steps["b"]
    assert b.retry_base == 3
    assert restored.state.mark_running("b", T0) == 4


def test_a_stored_false_condition_takes_the_false_edge_and_skips_the_true_branch() -> None:
    plan = plan_of(
        [
            node("c", "condition", {"expression": True}),  # would be true if it ran again
            setter("yes"),
            setter("after_yes"),
            setter("no"),
        ],
        [edge("c", "yes", "true"), edge("yes", "after_yes"), edge("c", "no", "false")],
    )
    restored = restore(plan, [done("c", {"result": False}, node_type="condition")])
    assert restored.frontier == ["no"]
    assert restored.state.steps["yes"].status == StepStatus.SKIPPED
    assert restored.state.steps["after_yes"].status == StepStatus.SKIPPED
    assert restored.reused == ["c"]


def test_a_stored_switch_case_picks_its_port() -> None:
    plan = plan_of(
        [node("s", "switch", {"value": "a", "cases": ["a", "b"]}), setter("on_a"), setter("on_b")],
        [edge("s", "on_a", "a"), edge("s", "on_b", "b")],
    )
    restored = restore(plan, [done("s", {"value": "b", "case": "b"}, node_type="switch")])
    assert restored.frontier == ["on_b"]
    assert restored.state.steps["on_a"].status == StepStatus.SKIPPED


def test_a_disabled_node_passes_through_without_a_record() -> None:
    plan = plan_of(
        [setter("a"), node("off", "fail", disabled=True), setter("c")],
        [edge("a", "off"), edge("off", "c")],
    )
    restored = restore(plan, [done("a")])
    assert restored.frontier == ["c"]
    assert restored.state.steps["off"].status == StepStatus.SKIPPED
    assert "off" not in restored.state.outputs


def test_a_stored_halting_failure_means_the_execution_had_already_failed() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    error = failure("b", "kaput", attempts=3)
    steps = [done("a"), stored("b", StepStatus.FAILED, error=error, attempts=3)]
    restored = restore(plan, steps)
    assert restored.halted == error
    assert restored.finished
    assert "b" in restored.reused
    assert "c" not in restored.frontier


def test_a_stored_failure_under_ignore_goes_on_with_its_error_output() -> None:
    plan = plan_of(
        [node("f", "fail", on_error="ignore"), setter("next")],
        [edge("f", "next")],
    )
    error = failure("f", "meh", attempts=2)
    restored = restore(plan, [stored("f", StepStatus.FAILED, error=error, node_type="fail")])
    assert restored.halted is None
    assert restored.frontier == ["next"]
    assert restored.state.outputs["f"] == {
        "error": {"message": "meh", "category": "node_error", "attempts": 2}
    }


def test_a_stored_failure_under_branch_takes_only_the_error_edge() -> None:
    plan = plan_of(
        [node("f", "fail", on_error="branch"), setter("ok"), setter("handler")],
        [edge("f", "ok"), edge("f", "handler", "error")],
    )
    restored = restore(plan, [stored("f", StepStatus.FAILED, error=failure("f"), node_type="fail")])
    assert restored.frontier == ["handler"]
    assert restored.state.steps["ok"].status == StepStatus.SKIPPED


def test_records_of_nodes_the_plan_no_longer_has_are_ignored() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    restored = restore(plan, [done("a"), done("gone", {"x": 1})])
    assert "gone" not in restored.state.outputs
    assert "gone" not in restored.reused
    assert sorted(restored.frontier) == ["b", "d"]


def test_replaying_a_real_execution_reuses_every_step() -> None:
    plan = plan_of(
        [
            setter("a", n=5),
            node("c", "condition", {"expression": "{{ $a.n > 3 }}"}),
            setter("big", v="{{ $a.n }}"),
            setter("small"),
        ],
        [edge("a", "c"), edge("c", "big", "true"), edge("c", "small", "false")],
    )
    record = asyncio.run(run_in_process(plan))
    assert record.status == ExecutionStatus.COMPLETED
    restored = restore(plan, record.steps)
    assert restored.finished
    assert restored.state.outputs == record.outputs
    assert restored.state.steps["small"].status == StepStatus.SKIPPED


# --- a resumed run --------------------------------------------------------------------------------


def test_a_resumed_run_does_not_rerun_reused_steps_and_uses_their_stored_outputs() -> None:
    plan = plan_of(
        [setter("a", n="{{ 1 }}"), node("log", "log", {"message": "n={{ $a.n }}"})],
        [edge("a", "log")],
    )
    record, inputs = new_execution(plan, {})
    journal = MemoryJournal()
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": inputs}),
        dispatch=dispatch_in_process,
        journal=journal,
        restored=restore(plan, [done("a", {"n": 42})]),
        resume_reason="actor_restart",
    )
    result = asyncio.run(runner.run())
    assert result.status == ExecutionStatus.COMPLETED
    assert result.outputs["log"]["message"] == "n=42"
    events = [w.event for w in journal.writes if isinstance(w, AppendEvent)]
    started = [e.node_id for e in events if e.type == "step_started"]
    assert started == ["log"]
    first = events[0]
    assert first.type == "execution_resumed"
    assert first.data["reason"] == "actor_restart"
    assert first.data["reused"] == ["a"]
    assert first.data["next"] == ["log"]
    assert "execution_started" not in [e.type for e in events]
    # the final record lists the reused step with its stored output
    a = next(s for s in result.steps if s.node_id == "a")
    assert (a.status, a.output) == (StepStatus.COMPLETED, {"n": 42})


# --- what a retry keeps ---------------------------------------------------------------------------


def _by_id(steps: list[StepRecord]) -> dict[str, StepRecord]:
    return {s.node_id: s for s in steps}


def test_a_retry_keeps_finished_steps_and_reruns_the_halting_one_after_its_attempts() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    steps = [
        done("a", {"v": 1}),
        done("d", {"v": 4}),
        stored("b", StepStatus.FAILED, error=failure("b", attempts=3), attempts=3),
    ]
    kept = _by_id(reusable_steps(plan, steps))
    assert set(kept) == {"a", "b", "d"}
    assert kept["a"] == steps[0]
    b = kept["b"]
    assert b.status == StepStatus.PENDING
    assert b.attempts == 3
    assert b.output is None and b.error is None


def test_a_retry_drops_what_is_downstream_of_the_rerun_step() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    steps = [done("a"), done("b"), done("c"), done("d")]
    kept = _by_id(reusable_steps(plan, steps, rerun="b"))
    assert set(kept) == {"a", "b", "d"}
    assert kept["b"].status == StepStatus.PENDING
    assert kept["b"].attempts == 1


def test_a_skipped_failure_is_kept_as_completed_with_the_substitute_output() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    steps = [done("a"), stored("b", StepStatus.FAILED, error=failure("b"))]
    kept = _by_id(reusable_steps(plan, steps, rerun="b", substitute={"b": {"v": "instead"}}))
    assert kept["b"].status == StepStatus.COMPLETED
    assert kept["b"].output == {"v": "instead"}
    restored = restore(plan, list(kept.values()))
    assert sorted(restored.frontier) == ["c", "d"]
    assert restored.state.outputs["b"] == {"v": "instead"}


def test_handled_failures_and_skipped_steps_are_kept_but_cancelled_ones_run_again() -> None:
    plan = plan_of(
        [
            node("f", "fail", on_error="ignore"),
            node("c", "condition", {"expression": True}),
            setter("yes"),
            setter("no"),
            setter("slow"),
            node("halt", "fail"),
        ],
        [edge("c", "yes", "true"), edge("c", "no", "false")],
    )
    steps = [
        stored("f", StepStatus.FAILED, error=failure("f"), node_type="fail"),
        done("c", {"result": True}, node_type="condition"),
        done("yes"),
        stored("no", StepStatus.SKIPPED),
        stored("slow", StepStatus.CANCELLED),
        stored("halt", StepStatus.FAILED, error=failure("halt"), node_type="fail"),
    ]
    kept = _by_id(reusable_steps(plan, steps))
    assert kept["f"].status == StepStatus.FAILED
    assert kept["no"].status == StepStatus.SKIPPED
    assert kept["halt"].status == StepStatus.PENDING
    assert "slow" not in kept
    restored = restore(plan, list(kept.values()))
    assert sorted(restored.frontier) == ["halt", "slow"]


def test_reusable_steps_ignores_nodes_the_plan_no_longer_has() -> None:
    plan = plan_of(CHAIN, CHAIN_EDGES)
    kept = reusable_steps(plan, [done("a"), done("gone")])
    assert [s.node_id for s in kept] == ["a"]


def test_restore_of_what_a_retry_keeps_resumes_at_the_failed_step() -> None:
    plan = plan_of(
        [setter("a", v=1), node("boom", "fail", {"message": "x"}), setter("after")],
        [edge("a", "boom"), edge("boom", "after")],
    )
    parent: ExecutionRecord = asyncio.run(run_in_process(plan))
    assert parent.status == ExecutionStatus.FAILED
    restored = restore(plan, reusable_steps(plan, parent.steps))
    assert restored.halted is None
    assert restored.frontier == ["boom"]
    assert restored.reused == ["a"]
    assert restored.state.steps["boom"].retry_base == 1


# --- a delay that was running when the runtime stopped ----------------------------------------


def resume_delay(seconds: float, started_ago_s: float) -> ExecutionRecord:
    """Resume a run whose delay of ``seconds`` was running, started ``started_ago_s`` ago."""
    plan = plan_of(
        [node("wait", "delay", {"seconds": seconds}), setter("after", ok=True)],
        [edge("wait", "after")],
    )
    record, inputs = new_execution(plan, {})
    running = StepRecord(
        node_id="wait",
        node_type="delay",
        status=StepStatus.RUNNING,
        attempts=1,
        started_at=datetime.now(UTC) - timedelta(seconds=started_ago_s),
    )
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": inputs}),
        dispatch=dispatch_in_process,
        journal=MemoryJournal(),
        restored=restore(plan, [running]),
        resume_reason="runtime_restart",
    )
    return asyncio.run(runner.run())


def test_a_resumed_delay_that_is_overdue_ends_at_once() -> None:
    # Slept through the restart: without the stored start, it would sleep its hour again (and
    # the test's time limit would stop it).
    result = resume_delay(3600, started_ago_s=7200)
    assert result.status == ExecutionStatus.COMPLETED
    assert result.outputs["wait"]["slept_s"] >= 7200


def test_a_resumed_delay_sleeps_what_is_left_of_its_time() -> None:
    result = resume_delay(3600.5, started_ago_s=3600)
    assert result.status == ExecutionStatus.COMPLETED
    assert 3600.4 <= result.outputs["wait"]["slept_s"] < 3700
