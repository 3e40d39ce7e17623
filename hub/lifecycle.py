"""Lifecycle rules: which actions each execution status allows, and what recovery does with the
executions a restarted runtime finds unfinished. Pure; the supervisor and the runner ask here.

Statuses (docs/dsl.md, "Lifecycle"): ``queued`` → ``running`` ⇄ ``paused`` → one terminal status
(``completed``, ``failed``, ``cancelled``). A terminal status never changes: retrying or
re-running a finished execution makes a new execution linked to it (``parent_id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from hub.errors import IllegalTransition
from hub.records import ExecutionRecord, ExecutionStatus

_Q, _R, _P = ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED
_C, _F, _X = ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED


class Action(StrEnum):
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    STEP = "step"
    CONTINUE = "continue"
    EVALUATE = "evaluate"
    INSPECT = "inspect"
    SET_BREAKPOINTS = "set breakpoints"
    RETRY = "retry"
    RETRY_STEP = "retry a step of"
    SKIP_STEP = "skip a step of"
    RERUN = "re-run"


# Which statuses each action accepts; every other combination is an IllegalTransition.
ALLOWED: dict[Action, frozenset[ExecutionStatus]] = {
    Action.CANCEL: frozenset({_Q, _R, _P}),
    Action.PAUSE: frozenset({_R}),
    Action.RESUME: frozenset({_P}),
    Action.STEP: frozenset({_P}),
    Action.CONTINUE: frozenset({_P}),
    Action.EVALUATE: frozenset({_R, _P}),
    Action.INSPECT: frozenset({_R, _P}),
    Action.SET_BREAKPOINTS: frozenset({_Q, _R, _P}),
    Action.RETRY: frozenset({_F, _X}),
    Action.RETRY_STEP: frozenset({_F, _X}),
    Action.SKIP_STEP: frozenset({_F}),
    Action.RERUN: frozenset({_Q, _R, _P, _C, _F, _X}),
}


def check(action: Action, status: ExecutionStatus, execution_id: str) -> None:
    """Raise IllegalTransition when ``action`` is not allowed for an execution in ``status``."""
    allowed = ALLOWED[action]
    if status in allowed:
        return
    wanted = " or ".join(s.value for s in ExecutionStatus if s in allowed)
    raise IllegalTransition(
        f"cannot {action.value} execution {execution_id}: it is "
        f"{'already ' if status.terminal else ''}{status.value}, and only {wanted} executions "
        "allow that",
        details={"execution_id": execution_id, "status": status.value, "action": action.value},
    )


# --- recovery -----------------------------------------------------------------------------------

RecoveryPolicy = Literal["resume", "fail"]


class RecoveryKind(StrEnum):
    REQUEUE = "requeue"  # it never started: back in the queue, in its original order
    RESUME = "resume"  # re-lease an actor that resumes after the last committed step
    FAIL = "fail"  # end it failed with category ``interrupted``


@dataclass(frozen=True)
class RecoveryStep:
    execution: ExecutionRecord
    kind: RecoveryKind
    reason: str = ""


def plan_recovery(
    unfinished: Iterable[ExecutionRecord],
    policy: RecoveryPolicy,
    *,
    unresumable: dict[str, str] | None = None,
    after: str = "runtime_restart",
) -> list[RecoveryStep]:
    """What to do with each execution a restarted supervisor finds unfinished in the store.

    Running and paused executions come first (they had slots), then queued ones, each group in
    creation order, so the queue keeps its order. ``unresumable`` maps execution ids to why they
    cannot resume (say, a secret input that was never stored); those fail. ``policy`` applies
    ``after`` a runtime restart only: a supervisor restart always resumes (nothing stopped).
    """
    if after != "runtime_restart":
        policy = "resume"
    blocked = unresumable or {}
    ordered = sorted(unfinished, key=lambda r: (r.status == _Q, r.created_at, r.id))
    steps = []
    for record in ordered:
        if record.status.terminal:
            continue
        if record.id in blocked:
            steps.append(RecoveryStep(record, RecoveryKind.FAIL, blocked[record.id]))
        elif policy == "fail":
            reason = (
                f"the runtime stopped while this execution was {record.status.value}, and the "
                "recovery setting is 'fail'"
            )
            steps.append(RecoveryStep(record, RecoveryKind.FAIL, reason))
        elif record.status == _Q:
            steps.append(RecoveryStep(record, RecoveryKind.REQUEUE))
        else:
            steps.append(RecoveryStep(record, RecoveryKind.RESUME))
    return steps
