"""hub.lifecycle: which actions each execution status allows, and what recovery does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import HubError, IllegalTransition
from hub.lifecycle import Action, RecoveryKind, check, plan_recovery
from hub.records import ExecutionRecord, ExecutionStatus

Q, R, P = ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED
C, F, X = ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED
ALL = (Q, R, P, C, F, X)

# What users may do in each status, written out from the lifecycle rules (not read from ALLOWED):
# only unfinished runs can be cancelled or debugged, only finished ones retried.
EXPECTED = {
    Action.CANCEL: {Q, R, P},
    Action.PAUSE: {R},
    Action.RESUME: {P},
    Action.STEP: {P},
    Action.CONTINUE: {P},
    Action.EVALUATE: {R, P},
    Action.INSPECT: {R, P},
    Action.SET_BREAKPOINTS: {Q, R, P},
    Action.RETRY: {F, X},
    Action.RETRY_STEP: {F, X},
    Action.SKIP_STEP: {F},
    Action.RERUN: set(ALL),
}

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def execution(
    id_: str, status: ExecutionStatus, created_min: int = 0, **extra: object
) -> ExecutionRecord:
    return ExecutionRecord(
        id=id_,
        workflow_id="wf",
        workflow_version="1",
        status=status,
        created_at=T0 + timedelta(minutes=created_min),
        **extra,  # type: ignore[arg-type]
    )


# --- the transition table -------------------------------------------------------------------------


def test_every_action_is_covered() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(EXPECTED))
def test_check_follows_the_lifecycle(action: Action) -> None:
    refused = []
    for status in ALL:
        try:
            check(action, status, "e1")
        except IllegalTransition:
            refused.append(status)
    assert set(refused) == set(ALL) - EXPECTED[action]


def test_illegal_transition_says_what_was_refused_and_what_would_be_allowed() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check(Action.PAUSE, C, "abc123")
    err = caught.value
    assert isinstance(err, HubError)
    assert err.code == "illegal_transition"
    assert "pause" in err.message
    assert "abc123" in err.message
    assert "completed" in err.message
    assert "running" in err.message  # the status that would allow it
    assert err.details == {"execution_id": "abc123", "status": "completed", "action": "pause"}


def test_illegal_retry_of_a_running_execution_names_the_finished_statuses() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check(Action.RETRY, R, "e9")
    assert "failed or cancelled" in caught.value.message
    assert caught.value.details["action"] == "retry"


# --- recovery -------------------------------------------------------------------------------------


def test_recovery_resumes_running_and_paused_and_requeues_queued() -> None:
    plan = plan_recovery(
        [execution("q", Q, 0), execution("r", R, 1), execution("p", P, 2)], "resume"
    )
    kinds = {step.execution.id: step.kind for step in plan}
    assert kinds == {"q": RecoveryKind.REQUEUE, "r": RecoveryKind.RESUME, "p": RecoveryKind.RESUME}
    assert all(step.reason == "" for step in plan)


def test_recovery_orders_slot_holders_first_then_the_queue_by_creation() -> None:
    unfinished = [
        execution("q_late", Q, 5),
        execution("r_late", R, 4),
        execution("q_early", Q, 0),
        execution("p_mid", P, 2),
        execution("r_early", R, 1),
    ]
    plan = plan_recovery(unfinished, "resume")
    assert [s.execution.id for s in plan] == ["r_early", "p_mid", "r_late", "q_early", "q_late"]


def test_recovery_breaks_creation_ties_by_id() -> None:
    plan = plan_recovery([execution("b", Q, 0), execution("a", Q, 0)], "resume")
    assert [s.execution.id for s in plan] == ["a", "b"]


def test_recovery_policy_fail_fails_everything_unfinished_and_says_why() -> None:
    plan = plan_recovery([execution("q", Q, 0), execution("r", R, 1)], "fail")
    assert [s.kind for s in plan] == [RecoveryKind.FAIL, RecoveryKind.FAIL]
    by_id = {s.execution.id: s.reason for s in plan}
    assert "running" in by_id["r"]
    assert "queued" in by_id["q"]
    assert all("'fail'" in reason for reason in by_id.values())


def test_unresumable_executions_fail_with_their_reason_even_under_resume() -> None:
    why = "its secret input 'token' is never stored"
    plan = plan_recovery(
        [execution("r", R, 0), execution("ok", R, 1), execution("q", Q, 2)],
        "resume",
        unresumable={"r": why, "q": "workflow gone"},
    )
    assert [(s.execution.id, s.kind, s.reason) for s in plan] == [
        ("r", RecoveryKind.FAIL, why),
        ("ok", RecoveryKind.RESUME, ""),
        ("q", RecoveryKind.FAIL, "workflow gone"),
    ]


def test_recovery_leaves_finished_executions_alone() -> None:
    plan = plan_recovery(
        [execution("c", C, 0), execution("f", F, 1), execution("x", X, 2), execution("r", R, 3)],
        "resume",
    )
    assert [s.execution.id for s in plan] == ["r"]


def test_recovery_of_nothing_is_nothing() -> None:
    assert plan_recovery([], "resume") == []
    assert plan_recovery(iter([]), "fail") == []


def test_recovery_keeps_the_records_it_was_given() -> None:
    record = execution("r", R, 0, inputs={"n": 1})
    [step] = plan_recovery([record], "resume")
    assert step.execution is record
