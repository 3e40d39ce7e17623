"""Parking: an execution waiting in a long ``delay`` gives its ExecutionActor back and is resumed
by the supervisor when the delay is due, so sleeping executions cost store rows and a timer,
not processes (docs/dsl.md, "Sleeping executions").

The decision is the runner's, at the start of a ``delay`` attempt: the run parks when the delay
has at least ``park_delay_s`` left, nothing else of the execution runs or waits to run, and it is
not a debug run (a debugger drives a live actor). Parked, the step stays ``running`` in the
store with its start: after the wake (or a restart, which resumes every unfinished run) the
delay sleeps only what is left (hub.nodes ``delay``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.records import (
    AppendEvent,
    ErrorInfo,
    Event,
    Parked,
    StepStatus,
    StoreWrite,
    UpsertStep,
)

DELAY_TYPE = "delay"


class Parking(BaseException):
    """Raised out of a delay attempt that parks its execution. A BaseException, like
    CancelledError, so no step error handler turns it into a failure."""


def delay_due(seconds: float, resumed_from: datetime | None, now: datetime) -> datetime:
    """When a delay of ``seconds`` is due: from when its attempt first started (``resumed_from``,
    for an attempt resumed after a stop) or from ``now``."""
    return (resumed_from or now) + timedelta(seconds=seconds)


def should_park(
    due: datetime,
    now: datetime,
    *,
    park_delay_s: float | None,
    alone: bool,
    debugging: bool,
) -> bool:
    """Park when the delay has at least ``park_delay_s`` left, ``alone`` (no other step of the
    execution runs or is ready) and the run is not being debugged."""
    if park_delay_s is None or debugging or not alone:
        return False
    left_s = (due - now).total_seconds()
    return left_s > 0 and left_s >= park_delay_s  # a delay that is due already just ends


def cancelled_step_writes(
    execution_id: str, parked: Parked, reason: str, now: datetime
) -> list[StoreWrite]:
    """What cancelling a parked execution records of its delay step (the execution's own end
    is recorded as for any cancel): the step cancelled, and its ``step_cancelled`` event."""
    error = ErrorInfo(message=f"step cancelled: {reason}", category="cancelled")
    step = parked.step.model_copy(
        update={"status": StepStatus.CANCELLED, "ended_at": now, "error": error}
    )
    detail: dict[str, Any] = {"status": step.status.value, "attempts": step.attempts}
    if step.duration_ms is not None:
        detail["duration_ms"] = step.duration_ms
    detail["error"] = error.model_dump()
    event = Event(execution_id=execution_id, type="step_cancelled", node_id=step.node_id)
    return [
        UpsertStep(execution_id=execution_id, step=step),
        AppendEvent(event=event.model_copy(update={"data": detail})),
    ]
