"""Lifecycle and debugging controls of a running execution: pause, resume, step, breakpoints,
evaluate and inspect (docs/dsl.md, "Lifecycle" and "Debugging"). A mixin of ExecutionRunner: the
rules live in hub.lifecycle and hub.debugging; this is where they meet the runner's state."""

from __future__ import annotations

import asyncio
from collections import ChainMap, deque
from typing import Any

from hub import lifecycle
from hub.debugging import Gate, compile_condition
from hub.engine import ExecutionState
from hub.errors import ExpressionError
from hub.expressions import CompiledValue
from hub.nodes import ensure_json
from hub.plan import ExecutionPlan
from hub.records import (
    Breakpoint,
    DebugView,
    ExecutionRecord,
    ExecutionStatus,
    NextStep,
    StepStatus,
    StoreWrite,
    UpdateExecution,
)
from hub.redaction import Redactor


class RunControl:
    plan: ExecutionPlan
    record: ExecutionRecord
    state: ExecutionState
    gate: Gate
    ready: deque[str]
    tasks: dict[str, asyncio.Task[None]]
    final_status: ExecutionStatus | None
    overrides: dict[str, CompiledValue]
    redact: Redactor
    base_scope: dict[str, Any]
    clock: asyncio.Timeout | None
    paused_left_s: float | None
    suspended: bool

    def schedule(self, node_ids: list[str]) -> None:
        raise NotImplementedError

    def emit(self, write: StoreWrite) -> None:
        raise NotImplementedError

    def event(
        self, kind: str, node_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        raise NotImplementedError

    def execution_info(self, attempt: int) -> dict[str, Any]:
        raise NotImplementedError

    async def flush(self) -> None:
        raise NotImplementedError

    def effective_status(self) -> ExecutionStatus:
        """``paused`` also while pausing (held, with steps still finishing)."""
        if self.final_status is None and self.gate.held:
            return ExecutionStatus.PAUSED
        return self.record.status

    def pause(self) -> None:
        if self.record.status == ExecutionStatus.RUNNING and self.gate.held:
            return  # already pausing: steps in flight are finishing
        lifecycle.check(lifecycle.Action.PAUSE, self.record.status, self.record.id)
        self.gate.pause()
        self.schedule([])

    def resume(self, action: lifecycle.Action = lifecycle.Action.RESUME) -> None:
        lifecycle.check(action, self.effective_status(), self.record.id)
        self.gate.release(step=list(self.ready) if action == lifecycle.Action.STEP else None)
        self.running_again(action)
        self.schedule([])

    def set_breakpoints(self, breakpoints: list[Breakpoint]) -> None:
        lifecycle.check(lifecycle.Action.SET_BREAKPOINTS, self.record.status, self.record.id)
        self.gate.set_breakpoints(breakpoints)

    def paused(self) -> None:
        """The gate holds and nothing runs: the execution is paused (once per hold)."""
        if self.record.status == ExecutionStatus.PAUSED:
            return
        hold = self.gate.hold
        assert hold is not None
        self.record.status = ExecutionStatus.PAUSED
        self.emit(UpdateExecution(execution_id=self.record.id, status=self.record.status))
        data: dict[str, Any] = {"reason": hold.reason, "next": list(self.ready)}
        if hold.detail:
            data["detail"] = hold.detail
        self.event("paused", hold.node_id, data)
        self.freeze_clock()

    def running_again(self, action: lifecycle.Action) -> None:
        if self.record.status != ExecutionStatus.PAUSED:
            return
        self.record.status = ExecutionStatus.RUNNING
        self.emit(UpdateExecution(execution_id=self.record.id, status=self.record.status))
        self.event("resumed", data={"action": action.value})
        if self.clock is not None and self.paused_left_s is not None:
            self.clock.reschedule(asyncio.get_running_loop().time() + self.paused_left_s)
        self.paused_left_s = None

    def freeze_clock(self) -> None:
        """Paused time does not count against the execution's timeout."""
        if self.clock is None or self.clock.when() is None or self.paused_left_s is not None:
            return
        when = self.clock.when()
        assert when is not None
        self.paused_left_s = max(when - asyncio.get_running_loop().time(), 0.0)
        self.clock.reschedule(None)

    def scope(self, node_id: str | None = None) -> ChainMap[str, Any]:
        """What expressions see: before ``node_id``'s next attempt, or at the current point."""
        attempt = self.state.steps[node_id].attempts + 1 if node_id else 0
        return ChainMap(
            {"execution": self.execution_info(attempt)}, self.base_scope, self.state.outputs
        )

    def evaluate(self, expression: str) -> Any:
        """Evaluate an expression in the paused context (the same sandbox as parameters)."""
        lifecycle.check(lifecycle.Action.EVALUATE, self.effective_status(), self.record.id)
        template = compile_condition(expression, "cannot evaluate")
        if template is None:
            raise ExpressionError("nothing to evaluate: the expression is empty")
        value = template.render(self.scope())
        return self.redact(ensure_json(value, "evaluate"))

    def inspect(self) -> DebugView:
        lifecycle.check(lifecycle.Action.INSPECT, self.effective_status(), self.record.id)
        hold = self.gate.hold
        upcoming = []
        for node_id in self.ready:
            node = self.plan.nodes[node_id]
            try:
                params: Any = self.overrides.get(node_id, node.parameters).render(
                    self.scope(node_id)
                )
            except ExpressionError as exc:
                params = {"error": exc.message}
            upcoming.append(
                NextStep(
                    node_id=node_id,
                    node_type=node.node_type.name,
                    upstream=sorted(self.state.upstream_outputs(node_id)),
                    parameters=self.redact(params),
                    breakpoint=node_id in self.gate.breakpoints,
                )
            )
        return DebugView(
            execution_id=self.record.id,
            status=self.effective_status(),
            hold_reason=hold.reason if hold else None,
            hold_node=hold.node_id if hold else None,
            detail=hold.detail if hold else None,
            inputs=self.redact(dict(self.base_scope["input"])),
            outputs=self.redact(dict(self.state.outputs)),
            next=upcoming,
            running=sorted(self.tasks),
            finished=[
                n
                for n, s in self.state.steps.items()
                if s.status not in (StepStatus.PENDING, StepStatus.RUNNING)
            ],
            breakpoints=self.gate.listed(),
        )

    async def suspend(self) -> None:
        """The runtime is stopping: start nothing more and make every record so far durable;
        the execution stays unfinished and resumes when the runtime starts again."""
        self.suspended = True  # not a pause: the stored status stays as it is
        await self.flush()
