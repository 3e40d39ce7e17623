"""Rebuild an execution's state from its stored steps: how a run resumes after a crash, and how a
retry reuses the outputs of the execution it retries.

Replaying walks the plan from its start nodes the way the engine did: a stored ``completed`` step
is applied with its stored output (the port it chose is recomputed from that output), a stored
``failed`` step under ``ignore`` or ``branch`` is applied as that failure, a disabled node passes
through. Whatever the replay reaches without a finished record (a step that was in flight at the
crash, or never started) is the *frontier*: it runs next. A step that was in flight runs again
with the attempt number it had, so its idempotency key (execution, node, attempt) is the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.engine import ExecutionState, StepState
from hub.loops import item_rows, parse_item_id
from hub.model import OnError
from hub.plan import ExecutionPlan
from hub.records import ErrorInfo, StepRecord, StepStatus, utcnow


@dataclass
class Restored:
    """A replayed state: what runs next, and whether the execution had already halted."""

    state: ExecutionState
    frontier: list[str] = field(default_factory=list)
    halted: ErrorInfo | None = None
    reused: list[str] = field(default_factory=list)  # steps whose stored result was applied
    # A foreach step's item rows (hub.loops), by its node id: its finished items are not rerun.
    items: dict[str, dict[int, StepRecord]] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True when nothing is left to run (the crash came after the last step)."""
        return self.halted is not None or (not self.frontier and not self.state.active)


def restore(
    plan: ExecutionPlan,
    steps: Iterable[StepRecord],
    *,
    retry_bases: Mapping[str, int] | None = None,
) -> Restored:
    """Replay stored ``steps`` of an execution of ``plan``. ``retry_bases``: for a retry
    execution, the attempts its steps had made before it (their retry budget starts after)."""
    steps = list(steps)
    stored = {s.node_id: s for s in steps if s.node_id in plan.nodes}
    state = ExecutionState(plan)
    restored = Restored(state, items=item_rows(plan.nodes, steps))
    ready = deque(state.start())
    while ready:
        node_id = ready.popleft()
        node = plan.nodes[node_id]
        record = stored.get(node_id)
        step = state.steps[node_id]
        step.retry_base = (retry_bases or {}).get(node_id, 0)
        if node.spec.disabled:
            ready.extend(state.pass_through(node_id, _when(record)).ready)
            continue
        if record is None or record.status not in (StepStatus.COMPLETED, StepStatus.FAILED):
            if record is not None and record.status == StepStatus.PENDING:
                # Seeded by a retry: new attempts are numbered after the old ones, with a
                # fresh retry budget.
                step.attempts = step.retry_base = record.attempts
            elif record is not None:
                # In flight (or cancelled) at the crash: run the same attempt again.
                step.attempts = max(record.attempts - 1, 0)
                step.started_at = record.started_at
            restored.frontier.append(node_id)
            continue
        _load(step, record)
        if record.status == StepStatus.COMPLETED:
            port_of = node.node_type.port_of
            port = port_of(record.output) if port_of else None
            transition = state.succeed(node_id, record.output, port, _when(record))
        else:
            error = record.error or ErrorInfo(message="failed", category="node_error")
            transition = state.fail(node_id, error, node.on_error, _when(record))
            if transition.halt and restored.halted is None:
                # It had failed; keep replaying the other branches so their outputs stay.
                restored.halted = error
        state.steps[node_id].ended_at = record.ended_at
        restored.reused.append(node_id)
        ready.extend(transition.ready)
    return restored


def _load(step: StepState, record: StepRecord) -> None:
    step.attempts = record.attempts
    step.started_at = record.started_at
    step.input = record.input


def _when(record: StepRecord | None) -> datetime:
    if record is not None and record.ended_at is not None:
        return record.ended_at
    return utcnow()


# --- retries: a new execution that reuses what an earlier one finished ---------------------------


def reusable_steps(
    plan: ExecutionPlan,
    steps: Iterable[StepRecord],
    *,
    rerun: str | None = None,
    substitute: Mapping[str, Any] | None = None,
    keep_items: bool = True,
) -> list[StepRecord]:
    """The steps of a failed execution that its retry keeps.

    Kept: completed steps, failures that ``ignore``/``branch`` already handled, disabled
    pass-throughs and, with ``keep_items``, a foreach's completed items, except the step
    ``rerun`` and everything downstream of it. The step that halted the execution is dropped
    (it runs again, its attempts numbered after the old ones); with ``substitute`` it is kept
    as completed with that output instead (a skipped failure).
    """
    by_id = {s.node_id: s for s in steps}
    halted = [
        s.node_id
        for s in by_id.values()
        if s.status == StepStatus.FAILED
        and s.node_id in plan.nodes
        and plan.nodes[s.node_id].on_error == OnError.HALT
    ]
    redo = set(halted) | ({rerun} if rerun else set())
    downstream = {n for n in plan.nodes if plan.ancestors[n] & redo}
    kept = []
    for node_id, record in by_id.items():
        item = parse_item_id(node_id)
        if item is not None and item[0] in plan.nodes:
            # A foreach's finished items stay finished (``keep_items``: its parameters are the
            # same), unless it is downstream of what runs again (its items may change).
            done = record.status == StepStatus.COMPLETED
            if keep_items and done and item[0] not in downstream:
                kept.append(record)
            continue
        if node_id not in plan.nodes or node_id in downstream:
            continue
        if substitute is not None and node_id in substitute:
            kept.append(
                record.model_copy(
                    update={"status": StepStatus.COMPLETED, "output": substitute[node_id]}
                )
            )
        elif node_id in redo:
            # Runs again: keep only the attempt count so new attempts are numbered after it.
            kept.append(
                record.model_copy(
                    update={"status": StepStatus.PENDING, "output": None, "error": None}
                )
            )
        elif record.status in (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED):
            kept.append(record)
    return kept
