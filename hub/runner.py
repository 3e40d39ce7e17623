"""Drive one execution: the async loop around the state machine.

The runner is pure asyncio: it gets a *dispatcher* for action nodes (the ExecutionActor passes
one that calls node-pool actors; tests pass one that runs nodes in-process) and a *journal* that
carries records to the store. Inline (control-flow) steps are journaled asynchronously; an
action step's result is flushed (durable) before any node that depends on it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import ChainMap, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from hub._foreach_step import ForeachStep
from hub._run_control import RunControl
from hub.credentials import CredentialSource, RunCredentials
from hub.debugging import Gate
from hub.engine import ExecutionState, StepState, Transition
from hub.errors import ExpressionError, StepFailed, Superseded
from hub.expressions import CompiledValue
from hub.inputs import secret_values
from hub.nodes import (
    NodeCall,
    NodeContext,
    NodeResult,
    NodeType,
    attempt_timeout_s,
    ensure_json,
    failure_info,
    step_timeout,
    to_step_failure,
)
from hub.nodes import validate_parameters as validate_node_parameters
from hub.nodes._foreach import FOREACH_TYPE
from hub.parking import DELAY_TYPE, Parking, delay_due, should_park
from hub.plan import ExecutionPlan, PlanNode
from hub.records import (
    AppendEvent,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    Parked,
    RunOptions,
    StepRecord,
    StepStatus,
    StoreWrite,
    UpdateExecution,
    UpsertStep,
    step_event_data,
    utcnow,
)
from hub.redaction import Redactor
from hub.restore import Restored
from hub.settings import LOG_LEVELS

Dispatcher = Callable[[PlanNode, NodeCall, "float | None"], Awaitable[NodeResult]]

# The retries' jitter, unless a run is given its own (tests): seeding a generator per run
# reads the OS's entropy on every run's path.
_RETRY_JITTER = random.Random()

StepObserver = Callable[[str, str, float], None]
"""Told of each step that ends: (node type, step status, seconds since its first attempt
started). Completed, failed and cancelled steps; it must not raise (metrics, not control)."""


class Journal(Protocol):
    superseded: bool
    """Set once the store refused this run's writes: another runner resumed the execution."""

    def emit(self, write: StoreWrite) -> None:
        """Queue a write; it reaches the store soon, in order."""

    async def flush(self) -> None:
        """Return once every write emitted so far is durable."""

    async def checkpoint(self) -> None:
        """Make every write emitted so far durable before anything that depends on it acts:
        at once (``flush``), or by a commit that the dispatcher's calls wait for."""


class ExecutionRunner(RunControl):
    def __init__(
        self,
        plan: ExecutionPlan,
        record: ExecutionRecord,
        *,
        dispatch: Dispatcher,
        journal: Journal,
        enabled_families: frozenset[str] = frozenset(),
        env: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        options: RunOptions | None = None,
        restored: Restored | None = None,
        resume_reason: str = "recovered",
        start_paused: bool = False,
        commit_each_step: bool = True,
        overrides: Mapping[str, CompiledValue] | None = None,
        durable_end: bool = True,
        on_step_end: StepObserver | None = None,
        timer: Callable[[], float] = time.monotonic,
        credentials: CredentialSource | None = None,
        refused: ErrorInfo | None = None,
        park_delay_s: float | None = None,
        children: Any = None,
        node_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.plan = plan
        # Parameters a node of a type gets unless it sets them (the runtime's AI settings).
        self.node_defaults = {t: dict(d) for t, d in (node_defaults or {}).items()}
        self.children = children  # hub.nodes._workflow.ChildRuns: for workflow nodes
        self.record = record
        self.dispatch = dispatch
        self.journal = journal
        self.families = sorted(enabled_families)
        self.rng = rng or _RETRY_JITTER
        self.options = options or RunOptions()
        self.restored = restored
        self.resume_reason = resume_reason
        self.commit_each_step = commit_each_step
        # False: whoever reports the end makes the last writes durable, with the report (the
        # ExecutionActor hands them to the supervisor with its answer); the run does not
        # flush them itself.
        self.durable_end = durable_end
        self.overrides = dict(overrides or {})
        self.on_step_end = on_step_end
        self.timer = timer
        self.refused = refused  # why it may not start (an open circuit breaker): it fails so
        self.park_delay_s = park_delay_s  # hub.parking: a delay this long releases the actor
        self.parked: Parked | None = None
        self.step_started: dict[str, float] = {}  # node id -> timer() when its attempts began
        # The row each step's last event was recorded with: the run's answer reuses it while
        # the step is as it was then (finish).
        self.rows: dict[str, StepRecord] = {}
        self.state = restored.state if restored is not None else ExecutionState(plan)
        # A foreach's item rows (hub.loops) by its node id: its finished items are not rerun.
        self.item_rows = dict(restored.items) if restored is not None else {}
        # Attempts that were running when the run stopped, and when they started: the first
        # attempt of each after the resume is told (hub.nodes.NodeContext.resumed_from).
        self.resumed_from = {
            n: started
            for n in (restored.frontier if restored is not None else [])
            if (started := self.state.steps[n].started_at) is not None
        }
        self.gate = Gate.for_run(
            debug=self.options.debug,
            breakpoints=self.options.breakpoints,
            node_breakpoints=[n for n, node in plan.nodes.items() if node.spec.breakpoint],
        )
        if restored is not None:
            # Resumed: it had already stopped where it was going to stop. The nodes it runs
            # next were ready (and held, if paused) before the restart: no breakpoint stops
            # them again, and a debug run does not stop "at start" again.
            self.gate.break_at_start = False
            self.gate.passed |= set(restored.frontier)
        if start_paused:
            self.gate.pause()
        self.clock: asyncio.Timeout | None = None
        self.suspended = False
        self.paused_left_s: float | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.error: ErrorInfo | None = None
        self.final_status: ExecutionStatus | None = None
        self.idle = asyncio.Event()
        self.ready: deque[str] = deque()
        # Secret inputs and credentials are usable in expressions but redacted from
        # everything journaled or answered (hub.redaction).
        self.redact = Redactor(secret_values(dict(plan.inputs), record.inputs))
        self.vault = RunCredentials(
            credentials,
            {n: self.overrides.get(n, node.parameters) for n, node in plan.nodes.items()},
            self.redact,
        )
        self.base_scope: dict[str, Any] = {
            "input": record.inputs,
            "env": dict(env or {}),
            "credential": self.vault.opened,  # what steps referred to, opened before they ran
        }

    # --- public -----------------------------------------------------------------------------

    async def run(self) -> ExecutionRecord:
        now = utcnow()
        self.record.status = ExecutionStatus.RUNNING
        self.record.started_at = self.record.started_at or now
        self.journal.emit(
            UpdateExecution(
                execution_id=self.record.id,
                status=ExecutionStatus.RUNNING,
                started_at=self.record.started_at,
            )
        )
        restored = self.restored
        if restored is None:
            self.event("execution_started", data={"workflow_id": self.plan.workflow_id})
            start = self.state.start()
        else:
            retry = self.resume_reason == "retry"  # a new execution seeded by the one it retries
            self.event(
                "execution_started" if retry else "execution_resumed",
                data={
                    "workflow_id": self.plan.workflow_id,
                    "reason": self.resume_reason,
                    "parent_id": self.record.parent_id,
                    "reused": restored.reused,
                    "next": restored.frontier,
                },
            )
            start = restored.frontier
            if restored.halted is not None:
                self.stop(ExecutionStatus.FAILED, restored.halted)
        if self.final_status is None and self.refused is not None:
            self.stop(ExecutionStatus.FAILED, self.refused)
        if self.final_status is None:
            missing = await self.vault.missing()
            if missing is not None:
                self.stop(ExecutionStatus.FAILED, missing)
        self.schedule(start)
        limit = self.options.timeout_s or self.plan.settings.timeout_s
        try:
            async with asyncio.timeout(limit) as self.clock:
                if self.record.status == ExecutionStatus.PAUSED:
                    self.freeze_clock()
                await self.idle.wait()
        except TimeoutError:
            self.stop(
                ExecutionStatus.FAILED,
                ErrorInfo(message=f"execution timed out after {limit:g}s", category="timeout"),
            )
        await self.drain()
        if self.journal.superseded:
            # Another runner resumed this execution: it records the rest, and its end.
            raise Superseded.of(self.record.id)
        if self.parked is not None and self.final_status is None:
            return self.record  # not ended: the supervisor resumes it when the delay is due
        return await self.finish()

    def cancel(self, reason: str = "cancelled by user") -> None:
        self.stop(ExecutionStatus.CANCELLED, ErrorInfo(message=reason, category="cancelled"))

    # --- scheduling -------------------------------------------------------------------------

    def schedule(self, node_ids: list[str]) -> None:
        """Start ready nodes, at most ``settings.max_parallel_steps`` at a time."""
        self.ready.extend(node_ids)
        if self.suspended:
            if self.parked is not None and not self.tasks:
                self.idle.set()  # parked: the run call returns, the actor is released
            return  # the runtime is stopping, or the run parks: start nothing more
        if self.journal.superseded:
            self.superseded()
        limit = self.plan.settings.max_parallel_steps
        while self.final_status is None and self.ready and len(self.tasks) < limit:
            node_id = self.ready[0]
            if self.gate.admit(node_id, functools.partial(self.scope, node_id)) is not None:
                break
            self.ready.popleft()
            self.tasks[node_id] = asyncio.create_task(self.run_node(node_id), name=node_id)
        if self.tasks:
            return
        if self.final_status is None and self.ready and self.gate.held:
            self.paused()
        else:
            self.idle.set()

    def superseded(self) -> None:
        """The store refused a write: another runner resumed this execution (this one was
        presumed lost). Start nothing more and stop what runs; the other one reruns it."""
        self.stop(
            ExecutionStatus.FAILED,
            ErrorInfo(message="resumed by another runner", category="interrupted"),
        )

    def stop(self, status: ExecutionStatus, error: ErrorInfo | None) -> None:
        if self.final_status is not None:
            return
        self.final_status, self.error = status, error
        for task in self.tasks.values():
            task.cancel()
        self.idle.set()

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            # A task cancelled before it ever ran never reached its own cleanup.
            self.tasks = {n: t for n, t in self.tasks.items() if not t.done()}

    # --- one node ---------------------------------------------------------------------------

    async def run_node(self, node_id: str) -> None:
        node = self.plan.nodes[node_id]
        try:
            if node.spec.disabled:
                self.apply(node, self.state.pass_through(node_id, utcnow()))
                return
            await self.attempts(node)
        except Superseded:
            self.superseded()
        except Parking:
            pass  # the step stays running, as stored, until the run resumes
        except Exception as exc:  # a runtime fault (say, the store refused a write)
            self.stop(
                ExecutionStatus.FAILED,
                ErrorInfo(
                    message=f"runtime error in step {node_id}: {exc}",
                    category="node_error",
                    node_id=node_id,
                ),
            )
        except asyncio.CancelledError:
            if self.state.steps[node_id].status == StepStatus.RUNNING:
                category = self.error.category if self.error else "cancelled"
                why = "cancelled" if category == "cancelled" else f"stopped ({category})"
                self.state.cancel(
                    node_id, ErrorInfo(message=f"step {why}", category="cancelled"), utcnow()
                )
                self.step_ended(node, StepStatus.CANCELLED)
                self.record_step(node, "step_cancelled")
        finally:
            self.step_started.pop(node_id, None)
            self.tasks.pop(node_id, None)
            self.schedule([])

    async def attempts(self, node: PlanNode) -> None:
        self.step_started[node.id] = self.timer()
        while True:
            attempt = self.state.mark_running(node.id, utcnow())
            # Stored as running, so a resume after a crash reruns this very attempt (same
            # idempotency key) rather than a new one.
            running = self.step_record(node.id)
            self.journal.emit(UpsertStep(execution_id=self.record.id, step=running))
            self.event("step_started", node.id, {"attempt": attempt, "type": node.node_type.name})
            budget = attempt - self.state.steps[node.id].retry_base
            try:
                try:
                    output, port = await self.attempt(node, attempt)
                except StepFailed:
                    raise
                except Exception as exc:
                    raise to_step_failure(exc) from None
            except StepFailed as failure:
                retry = node.retry.should_retry(
                    budget, retryable=failure.retryable, category=failure.category
                )
                if retry:
                    delay = node.retry.delay_s(budget, self.rng)
                    self.event(
                        "step_retrying",
                        node.id,
                        {
                            "attempt": attempt,
                            "delay_s": round(delay, 3),
                            "error": failure.message,
                            "category": failure.category.value,
                        },
                    )
                    await asyncio.sleep(delay)
                    continue
                await self.failed(node, failure, attempt)
                return
            await self.succeeded(node, output, port)
            return

    async def attempt(self, node: PlanNode, attempt: int) -> tuple[Any, str | None]:
        await self.vault.open_for(node.id)
        scope = ChainMap(
            {"execution": self.execution_info(attempt)}, self.base_scope, self.state.outputs
        )
        try:
            params = self.overrides.get(node.id, node.parameters).render(scope)
        except ExpressionError as exc:  # a size or time limit fails as validation or timeout
            raise StepFailed(exc.message, category=exc.category) from None
        params = self.with_defaults(node.node_type.name, params)
        self.state.steps[node.id].input = params
        if node.node_type.name == FOREACH_TYPE:
            resumed = self.resumed_from.pop(node.id, None) is not None
            output = await ForeachStep(self, node, attempt).run(params, same_attempt=resumed)
        elif node.inline:
            output = await self.run_inline(node, params, attempt)
        else:
            call = NodeCall(
                execution_id=self.record.id,
                workflow_id=self.plan.workflow_id,
                node_id=node.id,
                node_type=node.node_type.name,
                attempt=attempt,
                parameters=params,
                enabled_families=self.families,
            )
            try:
                result = await self.dispatch(node, call, self.attempt_timeout(node, params))
            except StepFailed as failure:
                self.logs(node.id, failure.logs)  # what the failed attempt logged
                raise
            self.logs(node.id, result.logs)
            output = result.output
        port_of = node.node_type.port_of
        return output, port_of(output) if port_of else None

    async def run_inline(self, node: PlanNode, params: dict[str, Any], attempt: int) -> Any:
        typed = validate_node_parameters(node.node_type, params)
        ctx = NodeContext(
            execution_id=self.record.id,
            workflow_id=self.plan.workflow_id,
            node_id=node.id,
            attempt=attempt,
            upstream=self.state.upstream_outputs(node.id),
            resumed_from=self.resumed_from.pop(node.id, None),
            runtime=self.children,
        )
        if node.node_type.name == DELAY_TYPE:
            self.park_if_long(node, float(getattr(typed, "seconds", 0)), ctx.resumed_from)
        return await self.call_inline(
            node.node_type, typed, ctx, self.attempt_timeout(node, params), log_as=node.id
        )

    async def call_inline(
        self,
        node_type: NodeType,
        typed: Any,
        ctx: NodeContext,
        limit_s: float | None,
        *,
        log_as: str,
        **log_metadata: Any,
    ) -> Any:
        """Run an inline node's attempt here, within ``limit_s``; its logs go to ``log_as``."""
        limit = None if node_type.instant else asyncio.timeout(limit_s)
        try:
            if limit is None:  # returns without awaiting: no limit could interrupt it
                output = await node_type.run(typed, ctx)
            else:
                async with limit:
                    output = await node_type.run(typed, ctx)
        except TimeoutError as exc:
            if limit is None or not limit.expired():  # the node itself raised TimeoutError
                raise to_step_failure(exc) from None
            raise step_timeout(limit_s) from None
        except Exception as exc:
            raise to_step_failure(exc) from None
        finally:
            self.logs(log_as, ctx.logs, **log_metadata)
        return ensure_json(output, ctx.node_id)

    def with_defaults(self, type_name: str, params: Any) -> Any:
        """``params`` over the runtime's defaults for nodes of ``type_name`` (an unset or null
        parameter takes the default)."""
        defaults = self.node_defaults.get(type_name)
        if defaults and isinstance(params, dict):
            return {**defaults, **{k: v for k, v in params.items() if v is not None}}
        return params

    def park_if_long(self, node: PlanNode, seconds: float, resumed_from: datetime | None) -> None:
        """Park the execution (hub.parking) rather than sleep here, when the delay is long and
        nothing else of the run is going on: raises Parking."""
        now = utcnow()
        due = delay_due(seconds, resumed_from, now)
        deadline = self.clock.when() if self.clock is not None else None
        timeout_left_s = None if deadline is None else deadline - asyncio.get_running_loop().time()
        if not should_park(
            due,
            now,
            park_delay_s=self.park_delay_s,
            alone=set(self.tasks) == {node.id} and not self.ready and self.final_status is None,
            debugging=self.options.debug or bool(self.options.breakpoints),
            timeout_left_s=timeout_left_s,
        ):
            return
        self.parked = Parked(node_id=node.id, due=due, step=self.step_record(node.id))
        self.suspended = True
        self.event("execution_sleeping", node.id, {"until": due.isoformat()})
        raise Parking

    @staticmethod
    def attempt_timeout(node: PlanNode, params: dict[str, Any]) -> float | None:
        """How long this attempt may run, as :func:`hub.nodes.attempt_timeout_s` decides for
        every node type: the node's ``timeout_s``, a ``timeout_s`` parameter (given or its
        default) and the type's default."""
        return attempt_timeout_s(node.node_type, node.timeout_s, params)

    async def succeeded(self, node: PlanNode, output: Any, port: str | None) -> None:
        transition = self.state.succeed(node.id, output, port, utcnow())
        self.step_ended(node, StepStatus.COMPLETED)
        self.record_step(node, "step_completed", {"port": port} if port else {})
        if not node.inline and self.commit_each_step:
            await self.journal.checkpoint()
        self.apply(node, transition)

    async def failed(self, node: PlanNode, failure: StepFailed, attempt: int) -> None:
        error = failure_info(failure, attempt, node.id)
        transition = self.state.fail(node.id, error, node.on_error, utcnow())
        self.step_ended(node, StepStatus.FAILED)
        self.record_step(node, "step_failed", {"on_error": node.on_error.value})
        if not node.inline and self.commit_each_step:
            await self.journal.checkpoint()
        if transition.halt:
            self.stop(ExecutionStatus.FAILED, error)
            return
        self.apply(node, transition)

    def step_ended(self, node: PlanNode, status: StepStatus) -> None:
        started = self.step_started.pop(node.id, None)
        if self.on_step_end is not None and started is not None:
            self.on_step_end(node.node_type.name, status.value, self.timer() - started)

    def apply(self, node: PlanNode, transition: Transition) -> None:
        if node.spec.disabled:
            self.record_step(node, "step_skipped", {"reason": "disabled"})
        for skipped in transition.skipped:
            self.record_step(self.plan.nodes[skipped], "step_skipped", {"reason": "no edge taken"})
        self.schedule(transition.ready)

    # --- records ----------------------------------------------------------------------------

    def emit(self, write: StoreWrite) -> None:
        self.journal.emit(write)

    async def flush(self) -> None:
        await self.journal.flush()

    def execution_info(self, attempt: int) -> dict[str, Any]:
        started = self.record.started_at
        return {
            "id": self.record.id,
            "workflow_id": self.plan.workflow_id,
            "workflow_version": self.plan.version,
            "started_at": started.isoformat() if isinstance(started, datetime) else None,
            "attempt": attempt,
        }

    def step_record(self, node_id: str) -> StepRecord:
        step = self.state.steps[node_id]
        record = StepRecord(
            node_id=node_id,
            node_type=self.plan.nodes[node_id].node_type.name,
            status=step.status,
            attempts=step.attempts,
            started_at=step.started_at,
            ended_at=step.ended_at,
            input=step.input,
            output=step.output if step.has_output else None,
            error=step.error,
        )
        if not self.redact:
            return record
        return StepRecord.model_validate(self.redact(record.model_dump()))

    def final_row(self, node_id: str, step: StepState) -> StepRecord:
        """``node_id``'s row for the run's answer: the one its last event was recorded with
        while the step is as it was then, and nothing is secret (a credential opened since
        may have to be redacted from it)."""
        row = self.rows.get(node_id)
        if row is None or self.redact:
            return self.step_record(node_id)
        if (row.status, row.attempts, row.ended_at) != (step.status, step.attempts, step.ended_at):
            return self.step_record(node_id)
        return row

    def record_step(self, node: PlanNode, event: str, data: dict[str, Any] | None = None) -> None:
        step = self.step_record(node.id)  # redacted already: so is what the event says of it
        self.rows[node.id] = step
        self.journal.emit(UpsertStep(execution_id=self.record.id, step=step))
        self.event(event, node.id, step_event_data(step, data))

    def event(
        self, kind: str, node_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.journal.emit(
            AppendEvent(
                event=Event(
                    execution_id=self.record.id,
                    type=kind,
                    node_id=node_id,
                    data=self.redact(data or {}),
                )
            )
        )

    def logs(self, node_id: str, lines: list[Any], **metadata: Any) -> None:
        lowest = LOG_LEVELS.get(self.options.log_level or "debug", 10)
        for line in lines:
            if LOG_LEVELS.get(line.level, 20) < lowest:
                continue
            self.event(
                "log",
                node_id,
                {
                    "level": line.level,
                    "message": line.message,
                    "source": line.source,
                    "metadata": {**line.metadata, **metadata},
                },
            )

    async def finish(self) -> ExecutionRecord:
        status = self.final_status or ExecutionStatus.COMPLETED
        now = utcnow()
        record = self.record
        error = self.error
        if error is not None and self.redact:
            error = ErrorInfo.model_validate(self.redact(error.model_dump()))
        record.status, record.error, record.ended_at = status, error, now
        record.outputs = self.redact(dict(self.state.outputs))
        steps = self.state.steps.items()
        record.steps = [self.final_row(n, s) for n, s in steps if s.status != StepStatus.PENDING]
        self.journal.emit(
            UpdateExecution(
                execution_id=record.id,
                status=status,
                ended_at=now,
                error=error,
                outputs=record.outputs,
            )
        )
        data: dict[str, Any] = {"status": status.value}
        if error is not None:
            data["error"] = error.model_dump()
        self.event(f"execution_{status.value}", data=data)
        if self.durable_end:
            with contextlib.suppress(asyncio.CancelledError):
                await self.journal.flush()
        return record
