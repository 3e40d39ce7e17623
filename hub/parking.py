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

from hub.records import (
    AppendEvent,
    ErrorInfo,
    Event,
    Parked,
    StepStatus,
    StoreWrite,
    UpsertStep,
    step_event_data,
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
    timeout_left_s: float | None = None,
) -> bool:
    """Park when the delay has at least ``park_delay_s`` left, ``alone`` (no other step of the
    execution runs or is ready), the run is not being debugged, and the execution's timeout
    (``timeout_left_s`` from now) would not end it first: that happens in the actor."""
    if park_delay_s is None or debugging or not alone:
        return False
    left_s = (due - now).total_seconds()
    if timeout_left_s is not None and left_s >= timeout_left_s:
        return False
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
    event = Event(
        execution_id=execution_id,
        type="step_cancelled",
        node_id=step.node_id,
        data=step_event_data(step),
    )
    return [UpsertStep(execution_id=execution_id, step=step), AppendEvent(event=event)]
