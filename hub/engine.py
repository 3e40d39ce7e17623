"""The execution state machine: which nodes are ready, which edges were taken, what is skipped.

Pure and synchronous; the async runner (hub/runner.py) drives it. Rules (docs/dsl.md):
- a node is ready once every incoming edge is decided and at least one was taken; when none was
  taken it is skipped, and skipping decides all its outgoing edges as not taken;
- a success takes the edges without ``when`` (port ``success``) and the edges of the port the
  node chose (``true``/``false``, a switch case);
- a failure under ``ignore`` takes the ``success`` edges, under ``branch`` only the ``error``
  edges, under ``halt`` nothing (the execution fails);
- a disabled node is skipped but passes through: its ``success`` edges are taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.model import OnError
from hub.plan import ERROR_PORT, SUCCESS_PORT, ExecutionPlan
from hub.records import ErrorInfo, StepStatus


@dataclass
class StepState:
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    retry_base: int = 0  # attempts made before a retry of the execution (a fresh budget after)
    output: Any = None
    has_output: bool = False
    error: ErrorInfo | None = None
    input: dict[str, Any] | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class Transition:
    """What a state change caused: nodes now ready, nodes now skipped, and whether the
    execution must halt."""

    ready: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    halt: bool = False


class ExecutionState:
    def __init__(self, plan: ExecutionPlan) -> None:
        self.plan = plan
        self.steps: dict[str, StepState] = {n: StepState() for n in plan.nodes}
        self.taken: list[bool | None] = [None] * len(plan.edges)
        self.outputs: dict[str, Any] = {}

    # --- queries ----------------------------------------------------------------------------

    def start(self) -> list[str]:
        return list(self.plan.start_nodes)

    @property
    def active(self) -> bool:
        """True while some node is running or could still become ready."""
        return any(
            s.status in (StepStatus.PENDING, StepStatus.RUNNING) for s in self.steps.values()
        )

    def running(self) -> list[str]:
        return [n for n, s in self.steps.items() if s.status == StepStatus.RUNNING]

    def upstream_outputs(self, node_id: str) -> dict[str, Any]:
        """Outputs of the direct upstream nodes whose edges into ``node_id`` were taken."""
        result: dict[str, Any] = {}
        for i in self.plan.incoming[node_id]:
            source = self.plan.edges[i].source
            if self.taken[i] and source in self.outputs:
                result[source] = self.outputs[source]
        return result

    # --- transitions ------------------------------------------------------------------------

    def mark_running(self, node_id: str, now: datetime) -> int:
        step = self.steps[node_id]
        if step.status not in (StepStatus.PENDING, StepStatus.RUNNING):
            raise RuntimeError(f"node {node_id!r} cannot run from state {step.status}")
        if step.started_at is None:
            step.started_at = now
        step.status = StepStatus.RUNNING
        step.attempts += 1
        return step.attempts

    def succeed(self, node_id: str, output: Any, port: str | None, now: datetime) -> Transition:
        step = self._finish(node_id, StepStatus.COMPLETED, now)
        step.output, step.has_output = output, True
        self.outputs[node_id] = output
        ports = {SUCCESS_PORT} if port is None else {SUCCESS_PORT, port}
        return self._decide(node_id, ports)

    def fail(self, node_id: str, error: ErrorInfo, policy: OnError, now: datetime) -> Transition:
        step = self._finish(node_id, StepStatus.FAILED, now)
        step.error = error
        if policy == OnError.HALT:
            return Transition(halt=True)
        output = {
            "error": {
                "message": error.message,
                "category": error.category,
                "attempts": error.attempts,
            }
        }
        step.output, step.has_output = output, True
        self.outputs[node_id] = output
        return self._decide(node_id, {SUCCESS_PORT} if policy == OnError.IGNORE else {ERROR_PORT})

    def pass_through(self, node_id: str, now: datetime) -> Transition:
        """A disabled node: recorded as skipped, but its plain edges are taken."""
        self._finish(node_id, StepStatus.SKIPPED, now)
        return self._decide(node_id, {SUCCESS_PORT})

    def cancel(self, node_id: str, error: ErrorInfo, now: datetime) -> None:
        step = self._finish(node_id, StepStatus.CANCELLED, now)
        step.error = error

    # --- internals --------------------------------------------------------------------------

    def _finish(self, node_id: str, status: StepStatus, now: datetime) -> StepState:
        step = self.steps[node_id]
        step.status = status
        step.ended_at = now
        if step.started_at is None:
            step.started_at = now
        return step

    def _decide(self, node_id: str, ports: set[str]) -> Transition:
        transition = Transition()
        for i in self.plan.outgoing[node_id]:
            self.taken[i] = self.plan.edges[i].port in ports
        self._propagate(self._targets(self.plan.outgoing[node_id]), transition)
        return transition

    def _targets(self, edge_indexes: Iterable[int]) -> list[str]:
        return list(dict.fromkeys(self.plan.edges[i].target for i in edge_indexes))

    def _propagate(self, candidates: list[str], transition: Transition) -> None:
        stack = list(reversed(candidates))
        while stack:
            node_id = stack.pop()
            step = self.steps[node_id]
            incoming = [self.taken[i] for i in self.plan.incoming[node_id]]
            if step.status != StepStatus.PENDING or any(t is None for t in incoming):
                continue
            if any(incoming):
                transition.ready.append(node_id)
                continue
            step.status = StepStatus.SKIPPED
            transition.skipped.append(node_id)
            for i in self.plan.outgoing[node_id]:
                self.taken[i] = False
            stack.extend(reversed(self._targets(self.plan.outgoing[node_id])))
