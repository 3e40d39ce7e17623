"""hub.engine.ExecutionState: ports, skipping, joins and error policies (docs/dsl.md)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.engine import ExecutionState
from hub.model import OnError
from hub.plan import ExecutionPlan
from hub.records import ErrorInfo, StepStatus, utcnow


def log(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "log", "parameters": {"message": "m"}, **extra}


def condition(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "condition", "parameters": {"expression": True}}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def plan_of(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **top: Any) -> ExecutionPlan:
    return compile_workflow({"id": "wf", "nodes": nodes, "edges": edges, **top}).raise_for_errors()


def run(state: ExecutionState, node_id: str) -> None:
    state.mark_running(node_id, utcnow())


def succeed(state: ExecutionState, node_id: str, output: Any = None, port: str | None = None):
    run(state, node_id)
    return state.succeed(node_id, output if output is not None else {}, port, utcnow())


def fail(state: ExecutionState, node_id: str, policy: OnError):
    run(state, node_id)
    error = ErrorInfo(message="boom", category="node_error", attempts=2, node_id=node_id)
    return state.fail(node_id, error, policy, utcnow())


def status(state: ExecutionState, node_id: str) -> StepStatus:
    return state.steps[node_id].status


# --- ports ----------------------------------------------------------------------------------------


@pytest.fixture
def branching_plan() -> ExecutionPlan:
    return plan_of(
        [condition("c"), log("yes"), log("no"), log("always")],
        [edge("c", "yes", "true"), edge("c", "no", "false"), edge("c", "always")],
    )


@pytest.mark.parametrize(
    ("port", "taken", "skipped"), [("true", "yes", "no"), ("false", "no", "yes")]
)
def test_condition_takes_only_the_chosen_port_and_plain_edges(
    branching_plan: ExecutionPlan, port: str, taken: str, skipped: str
) -> None:
    state = ExecutionState(branching_plan)
    assert state.start() == ["c"]
    transition = succeed(state, "c", {"result": port == "true"}, port)
    assert set(transition.ready) == {taken, "always"}
    assert transition.skipped == [skipped]
    assert not transition.halt
    assert status(state, skipped) == StepStatus.SKIPPED
    assert status(state, taken) == StepStatus.PENDING  # ready, not yet running


def test_switch_takes_the_matching_case() -> None:
    plan = plan_of(
        [
            {"id": "s", "type": "switch", "parameters": {"value": "b", "cases": ["a", "b"]}},
            log("on_a"),
            log("on_b"),
            log("other"),
        ],
        [edge("s", "on_a", "a"), edge("s", "on_b", "b"), edge("s", "other", "default")],
    )
    state = ExecutionState(plan)
    transition = succeed(state, "s", {"value": "b", "case": "b"}, "b")
    assert transition.ready == ["on_b"]
    assert set(transition.skipped) == {"on_a", "other"}


def test_switch_default_port() -> None:
    plan = plan_of(
        [
            {"id": "s", "type": "switch", "parameters": {"value": "z", "cases": ["a"]}},
            log("on_a"),
            log("other"),
        ],
        [edge("s", "on_a", "a"), edge("s", "other", "default")],
    )
    state = ExecutionState(plan)
    transition = succeed(state, "s", {"value": "z", "case": "default"}, "default")
    assert transition.ready == ["other"]
    assert transition.skipped == ["on_a"]


# --- skipping and joins ---------------------------------------------------------------------------


def test_skip_propagates_through_a_chain() -> None:
    plan = plan_of(
        [condition("c"), log("x1"), log("x2"), log("x3"), log("y")],
        [
            edge("c", "x1", "false"),
            edge("x1", "x2"),
            edge("x2", "x3"),
            edge("c", "y", "true"),
        ],
    )
    state = ExecutionState(plan)
    transition = succeed(state, "c", {"result": True}, "true")
    assert transition.ready == ["y"]
    assert transition.skipped == ["x1", "x2", "x3"]
    assert all(status(state, n) == StepStatus.SKIPPED for n in ("x1", "x2", "x3"))
    succeed(state, "y")
    assert not state.active


def test_join_after_a_condition_runs_when_one_branch_is_skipped() -> None:
    plan = plan_of(
        [condition("c"), log("yes"), log("no"), log("join")],
        [
            edge("c", "yes", "true"),
            edge("c", "no", "false"),
            edge("yes", "join"),
            edge("no", "join"),
        ],
    )
    state = ExecutionState(plan)
    transition = succeed(state, "c", {"result": True}, "true")
    assert transition.ready == ["yes"]
    assert transition.skipped == ["no"]
    # the join waits for "yes" ...
    assert status(state, "join") == StepStatus.PENDING
    transition = succeed(state, "yes", {"v": 1})
    # ... then runs, and sees only the taken upstream
    assert transition.ready == ["join"]
    assert state.upstream_outputs("join") == {"yes": {"v": 1}}


def test_join_waits_for_every_incoming_edge_to_be_decided() -> None:
    plan = plan_of(
        [log("a"), log("b"), log("join")],
        [edge("a", "join"), edge("b", "join")],
    )
    state = ExecutionState(plan)
    assert set(state.start()) == {"a", "b"}
    assert succeed(state, "a").ready == []
    assert succeed(state, "b").ready == ["join"]


def test_join_is_skipped_when_everything_before_it_is_skipped() -> None:
    plan = plan_of(
        [condition("c"), log("x"), log("y"), log("join"), log("after")],
        [
            edge("c", "x", "false"),
            edge("c", "y", "false"),
            edge("x", "join"),
            edge("y", "join"),
            edge("join", "after"),
        ],
    )
    state = ExecutionState(plan)
    transition = succeed(state, "c", {"result": True}, "true")
    assert transition.ready == []
    assert set(transition.skipped) == {"x", "y", "join", "after"}
    assert status(state, "join") == StepStatus.SKIPPED
    assert not state.active


# --- error policies -------------------------------------------------------------------------------


@pytest.fixture
def error_plan() -> ExecutionPlan:
    return plan_of(
        [log("a"), log("ok"), log("handler")],
        [edge("a", "ok"), edge("a", "handler", "error")],
        settings={"on_error": "branch"},  # keeps the error edge live for the compiler
    )


def test_ignore_takes_success_edges_with_an_error_output(error_plan: ExecutionPlan) -> None:
    state = ExecutionState(error_plan)
    transition = fail(state, "a", OnError.IGNORE)
    assert not transition.halt
    assert transition.ready == ["ok"]
    assert transition.skipped == ["handler"]
    assert status(state, "a") == StepStatus.FAILED
    expected = {"error": {"message": "boom", "category": "node_error", "attempts": 2}}
    assert state.outputs["a"] == expected
    assert state.upstream_outputs("ok") == {"a": expected}
    assert state.steps["a"].error is not None
    assert state.steps["a"].error.message == "boom"


def test_branch_takes_only_error_edges(error_plan: ExecutionPlan) -> None:
    state = ExecutionState(error_plan)
    transition = fail(state, "a", OnError.BRANCH)
    assert not transition.halt
    assert transition.ready == ["handler"]
    assert transition.skipped == ["ok"]
    assert state.outputs["a"]["error"]["message"] == "boom"
    assert state.upstream_outputs("handler") == {"a": state.outputs["a"]}


def test_success_never_takes_error_edges(error_plan: ExecutionPlan) -> None:
    state = ExecutionState(error_plan)
    transition = succeed(state, "a")
    assert transition.ready == ["ok"]
    assert transition.skipped == ["handler"]


def test_halt_stops_and_decides_nothing(error_plan: ExecutionPlan) -> None:
    state = ExecutionState(error_plan)
    transition = fail(state, "a", OnError.HALT)
    assert transition.halt
    assert transition.ready == []
    assert transition.skipped == []
    assert status(state, "a") == StepStatus.FAILED
    assert status(state, "ok") == StepStatus.PENDING
    assert "a" not in state.outputs


# --- disabled nodes, attempts, cancel -------------------------------------------------------------


def test_disabled_node_is_skipped_but_passes_through() -> None:
    plan = plan_of(
        [log("a"), log("off", disabled=True), log("c")], [edge("a", "off"), edge("off", "c")]
    )
    state = ExecutionState(plan)
    assert succeed(state, "a").ready == ["off"]
    transition = state.pass_through("off", utcnow())
    assert status(state, "off") == StepStatus.SKIPPED
    assert transition.ready == ["c"]
    assert transition.skipped == []
    assert "off" not in state.outputs


def test_disabled_node_takes_no_error_edge() -> None:
    plan = plan_of(
        [log("off", disabled=True, on_error="branch"), log("next"), log("handler")],
        [edge("off", "next"), edge("off", "handler", "error")],
    )
    state = ExecutionState(plan)
    transition = state.pass_through("off", utcnow())
    assert transition.ready == ["next"]
    assert transition.skipped == ["handler"]


def test_attempts_count_and_running_set() -> None:
    plan = plan_of([log("a")], [])
    state = ExecutionState(plan)
    assert state.mark_running("a", utcnow()) == 1
    first_start = state.steps["a"].started_at
    assert state.mark_running("a", utcnow()) == 2
    assert state.steps["a"].started_at == first_start  # a step starts once, retries or not
    assert state.running() == ["a"]
    assert state.active
    state.succeed("a", {}, None, utcnow())
    assert state.running() == []
    assert not state.active
    with pytest.raises(RuntimeError):
        state.mark_running("a", utcnow())


def test_cancel_records_the_error() -> None:
    plan = plan_of([log("a")], [])
    state = ExecutionState(plan)
    run(state, "a")
    state.cancel("a", ErrorInfo(message="stop", category="cancelled"), utcnow())
    assert status(state, "a") == StepStatus.CANCELLED
    assert state.steps["a"].error is not None
    assert state.steps["a"].ended_at is not None
    assert not state.active
