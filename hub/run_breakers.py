"""The breakers one execution goes through (docs/dsl.md, "Circuit breakers").

The ExecutionActor makes a :class:`RunBreakers` only for a workflow whose settings turn breakers
on, so other executions make no breaker call at all. It asks the workflow's breaker before the
execution starts (:meth:`RunBreakers.admit`), puts each call of a step through the step's
breaker (:meth:`RunBreakers.guard`) and reports how the execution ended
(:meth:`RunBreakers.ended`). The breakers themselves are a :class:`BreakerClient`: the
BreakerActor (actors.breakers), or a board in this process (:class:`LocalBreakers`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from hub.breakers import (
    BreakerBoard,
    BreakerSettings,
    Outcome,
    Permit,
    step_key,
    workflow_key,
)
from hub.errors import ErrorCategory, StepFailed
from hub.records import ErrorInfo

if TYPE_CHECKING:
    from hub.nodes import NodeCall, NodeResult
    from hub.plan import ExecutionPlan, PlanNode
    from hub.runner import Dispatcher

T = TypeVar("T")

# Failures of these categories are the target's: they count toward opening its breaker. Others
# (a bad parameter, an expression, a cancel) say nothing of the target's health.
TARGET_FAILURES = frozenset(
    {
        ErrorCategory.CONNECTION,
        ErrorCategory.TIMEOUT,
        ErrorCategory.NODE_ERROR,
        ErrorCategory.RESOURCE_LIMIT,
    }
)


def counts_against(category: str, *, retryable: bool) -> bool:
    """Whether a failed call says the target is unhealthy: a connection error, a timeout, the
    node raising, a resource limit, or an HTTP status worth a retry (5xx, 429). A 4xx, bad
    parameters or an expression error are answers, not outages."""
    if category == ErrorCategory.HTTP_STATUS:
        return retryable
    return category in TARGET_FAILURES


class BreakerClient(Protocol):
    """Where the breakers are: the BreakerActor (actors.breakers) or a board in this process."""

    async def acquire(self, key: str, settings: BreakerSettings) -> Permit: ...

    async def record(self, key: str, settings: BreakerSettings, outcome: Outcome) -> None: ...

    def release(self, key: str, token: str) -> None:
        """Free a probe's slot; sent, not awaited (it may run from a cancelled task)."""


class LocalBreakers:
    """A :class:`BreakerClient` over a board in this process (tests, in-process runs)."""

    def __init__(self, board: BreakerBoard) -> None:
        self.board = board

    async def acquire(self, key: str, settings: BreakerSettings) -> Permit:
        return self.board.acquire(key, settings)

    async def record(self, key: str, settings: BreakerSettings, outcome: Outcome) -> None:
        self.board.record(key, settings, outcome)

    def release(self, key: str, token: str) -> None:
        self.board.release(key, token)


@dataclass(frozen=True)
class Admission:
    """Whether an execution may start under its workflow's breaker. ``refusal`` fails it at
    once; ``token`` marks it as the half-open probe."""

    key: str
    refusal: ErrorInfo | None = None
    token: str | None = None


class RunBreakers:
    """The breakers one execution goes through; made only for a workflow whose settings turn
    them on (:meth:`of`), so other executions make no breaker call at all."""

    def __init__(
        self,
        workflow_id: str,
        settings: BreakerSettings,
        client: BreakerClient,
        guarded: frozenset[str] = frozenset(),
    ) -> None:
        self.workflow_id = workflow_id
        self.settings = settings
        self.client = client
        self.guarded = guarded  # nodes whose calls go through a breaker of their own

    @classmethod
    def of(cls, plan: ExecutionPlan, client: BreakerClient) -> RunBreakers | None:
        settings = plan.settings.circuit_breaker
        if settings is None or not settings.enabled:
            return None
        guarded = frozenset(
            node_id
            for node_id, node in plan.nodes.items()
            if node.node_type.name == "http" or node.node_type.family in ("code", "shell")
        )
        return cls(plan.workflow_id, settings, client, guarded)

    async def admit(self, *, fresh: bool) -> Admission:
        """Ask the workflow's breaker whether a new execution may start. A resumed one (not
        ``fresh``) was admitted before: it is not asked again, only its end counts."""
        key = workflow_key(self.workflow_id)
        if not fresh:
            return Admission(key)
        permit = await self.client.acquire(key, self.settings)
        if permit.allowed:
            return Admission(key, token=permit.token)
        message = permit.refusal("the execution was not started")
        error = ErrorInfo(message=message, category=ErrorCategory.CIRCUIT_OPEN, retryable=True)
        return Admission(key, refusal=error)

    async def ended(
        self, admission: Admission, status: str | None, error: ErrorInfo | None = None
    ) -> None:
        """Report how the execution ended to the workflow's breaker: completed is a success,
        failed a failure, except a failure a step's own breaker counted already (its target
        failing) or an open breaker caused (``circuit_open``: no news of the workflow). Those,
        and cancelled, suspended or lost runs (``None``), only free a probe's slot."""
        if admission.refusal is not None:
            return  # it never ran
        counted = status == "failed" and error is not None and self.counted_by_a_step(error)
        if status in ("completed", "failed") and not counted:
            message = error.message if error is not None else None
            outcome = Outcome(ok=status == "completed", token=admission.token, error=message)
            await self.client.record(admission.key, self.settings, outcome)
        elif admission.token is not None:
            self.client.release(admission.key, admission.token)

    def counted_by_a_step(self, error: ErrorInfo) -> bool:
        if error.category == ErrorCategory.CIRCUIT_OPEN:
            return True
        guarded = error.node_id is not None and error.node_id in self.guarded
        return guarded and counts_against(error.category, retryable=error.retryable)

    def guard(self, dispatch: Dispatcher) -> Dispatcher:
        """``dispatch`` behind the breakers: a call through an open one fails at once with
        ``circuit_open`` (retryable) without reaching its target."""

        async def guarded(node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
            key = step_key(
                call.workflow_id,
                call.node_id,
                node.node_type.name,
                node.node_type.family,
                call.parameters,
            )
            if key is None:
                return await dispatch(node, call, timeout_s)
            return await self.through(key, lambda: dispatch(node, call, timeout_s))

        return guarded

    async def through(self, key: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Make ``attempt`` if ``key``'s breaker allows it, and report how it went."""
        from hub.nodes import to_step_failure

        permit = await self.client.acquire(key, self.settings)
        if not permit.allowed:
            raise StepFailed(
                permit.refusal("the call was not made"),
                category=ErrorCategory.CIRCUIT_OPEN,
                retryable=True,
                details={"key": key, "state": permit.state.value},
            )
        try:
            result = await attempt()
        except asyncio.CancelledError:
            if permit.token is not None:
                self.client.release(key, permit.token)
            raise
        except Exception as exc:
            failure = to_step_failure(exc)
            bad = counts_against(failure.category, retryable=failure.retryable)
            outcome = Outcome(ok=not bad, token=permit.token, error=failure.message)
            await self.client.record(key, self.settings, outcome)
            raise
        await self.client.record(key, self.settings, Outcome(ok=True, token=permit.token))
        return result


__all__ = [
    "TARGET_FAILURES",
    "Admission",
    "BreakerClient",
    "LocalBreakers",
    "RunBreakers",
    "counts_against",
]
