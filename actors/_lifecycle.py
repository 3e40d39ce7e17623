"""The supervisor's lifecycle side: cancel, pause/resume/debug controls, and retries. A mixin
of SupervisorActor; the rules are in hub.lifecycle and hub.retries, this forwards them to the
ExecutionActor that runs the execution, or answers from the store."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from actors._sleeping import Sleepers
from hub import lifecycle, sealing
from hub.debugging import check_breakpoints
from hub.errors import HubError, IllegalTransition, NotRunningHere
from hub.lifecycle import Action
from hub.parking import cancelled_step_writes
from hub.plan import ExecutionPlan
from hub.records import (
    Breakpoint,
    CreateExecution,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    RunOptions,
    RunOrder,
    WorkflowRecord,
    utcnow,
)
from hub.retries import RetryKind, derive
from hub.sealing import open_inputs, seal_inputs
from hub.settings import RuntimeSettings


async def remote(ref: Any) -> Any:
    """Await an actor call; a HubError raised there is raised here as itself."""
    from ray.exceptions import RayTaskError

    try:
        return await ref
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, HubError):
            raise cause from None
        raise


class LifecycleControl:
    settings: RuntimeSettings
    recorder: Any
    sealing_key: str | None
    pending: dict[str, tuple[RunOrder, dict[str, Any]]]
    running: dict[str, Any]
    results: dict[str, asyncio.Future[ExecutionRecord]]
    admission: Any
    shared_admission: Any
    sleepers: Sleepers

    async def _ready(self) -> None:
        raise NotImplementedError

    def _definition_for(self, workflow: WorkflowRecord, record: ExecutionRecord) -> dict[str, Any]:
        raise NotImplementedError

    async def _end(
        self,
        record: ExecutionRecord,
        redacted_inputs: dict[str, Any],
        status: ExecutionStatus,
        error: ErrorInfo | None,
    ) -> ExecutionRecord:
        raise NotImplementedError

    async def wait(self, execution_id: str, timeout_s: float | None = None) -> ExecutionRecord:
        raise NotImplementedError

    async def workflow(
        self, workflow_id: str, version: str | None
    ) -> tuple[WorkflowRecord, ExecutionPlan]:
        raise NotImplementedError

    def _check_open(self) -> None:
        raise NotImplementedError

    def check_families(self, plan: ExecutionPlan) -> None:
        raise NotImplementedError

    def _admit(self, order: RunOrder, redacted_inputs: dict[str, Any]) -> None:
        raise NotImplementedError

    async def cancel(self, execution_id: str, reason: str = "cancelled by user") -> ExecutionRecord:
        await self._ready()
        sleeper = self.sleepers.take(execution_id)
        if sleeper is not None:  # parked in a delay: its step and the execution end here
            now = utcnow()
            await remote(
                self.recorder.commit.remote(
                    cancelled_step_writes(execution_id, sleeper.parked, reason, now)
                )
            )
            result = await self._end(
                sleeper.order.record,
                sleeper.redacted_inputs,
                ExecutionStatus.CANCELLED,
                ErrorInfo(message=reason, category="cancelled"),
            )
            future = self.results.pop(execution_id, None)
            if future is not None and not future.done():
                future.set_result(result)
            return result
        if execution_id in self.pending and (
            self.admission.withdraw(execution_id) or self.shared_admission.withdraw(execution_id)
        ):
            order, redacted = self.pending.pop(execution_id)
            result = await self._end(
                order.record,
                redacted,
                ExecutionStatus.CANCELLED,
                ErrorInfo(message=reason, category="cancelled"),
            )
            self.results.pop(execution_id).set_result(result)
            return result
        for _ in range(100):  # a restarting actor takes the run back within a few seconds
            handle = self.running.get(execution_id)
            if handle is None:
                break
            if await handle.cancel.remote(execution_id, reason):
                return await self.wait(execution_id)
            await asyncio.sleep(0.1)
        record: ExecutionRecord = await remote(self.recorder.get_execution.remote(execution_id))
        lifecycle.check(Action.CANCEL, record.status, record.id)
        raise IllegalTransition(f"execution {record.id} is not managed by this runtime")

    async def control(self, execution_id: str, action: str, argument: Any = None) -> Any:
        """Pause, resume, step, continue, evaluate, inspect or set breakpoints (hub.lifecycle).
        Answers the execution's DebugView, or the value of an evaluated expression."""
        await self._ready()
        act = Action(action)
        if act == Action.SET_BREAKPOINTS:
            argument = [Breakpoint.model_validate(b) for b in argument or []]
            _, plan = await self._plan_of(execution_id)
            check_breakpoints(argument, plan.nodes)
        sleeper = self.sleepers.entries.get(execution_id)
        if sleeper is not None:
            raise IllegalTransition(
                f"execution {execution_id} is sleeping in its delay "
                f"{sleeper.parked.node_id!r} until {sleeper.parked.due.isoformat()} (its actor "
                f"is released): {act.value!r} works once it wakes; cancel works now"
            )
        for _ in range(100):
            handle = self.running.get(execution_id)
            if handle is None:
                break
            try:
                return await remote(handle.control.remote(execution_id, act.value, argument))
            except NotRunningHere:
                await asyncio.sleep(0.1)  # restarting, or between two leases
        if execution_id in self.pending:
            order, _ = self.pending[execution_id]
            if act == Action.SET_BREAKPOINTS:
                options = order.options.model_copy(update={"breakpoints": argument})
                self.pending[execution_id] = (order.model_copy(update={"options": options}), _)
                return None
            lifecycle.check(act, ExecutionStatus.QUEUED, execution_id)
        record: ExecutionRecord = await remote(self.recorder.get_execution.remote(execution_id))
        lifecycle.check(act, record.status, record.id)
        raise IllegalTransition(f"execution {record.id} is not managed by this runtime")

    async def _plan_of(self, execution_id: str) -> tuple[WorkflowRecord, ExecutionPlan]:
        pending = self.pending.get(execution_id)
        if pending is not None:
            record = pending[0].record
        else:
            record = await remote(self.recorder.get_execution.remote(execution_id))
        return await self.workflow(record.workflow_id, record.workflow_version)

    async def retry(
        self,
        execution_id: str,
        kind: RetryKind = "retry",
        *,
        node_id: str | None = None,
        parameters: dict[str, Any] | None = None,
        output: Any = None,
        inputs: dict[str, Any] | None = None,
        trigger: str = "api",
    ) -> ExecutionRecord:
        """A new execution that retries, skips a failed step of, or re-runs ``execution_id``
        (hub.retries)."""
        await self._ready()
        self._check_open()
        parent: ExecutionRecord = await remote(self.recorder.get_execution.remote(execution_id))
        workflow, plan = await self.workflow(parent.workflow_id, parent.workflow_version)
        self.check_families(plan)
        with contextlib.suppress(HubError):  # not kept: derive asks for them again
            parent.inputs = open_inputs(parent, plan, self.sealing_key)
        derived = derive(
            parent,
            plan,
            workflow.definition,
            kind,
            node_id=node_id,
            parameters=parameters,
            output=output,
            inputs=inputs,
            trigger=trigger,
        )
        record = derived.record
        record.settings["enabled_families"] = sorted(self.settings.enabled_families())
        record.settings.pop(sealing.SETTING, None)
        sealed = seal_inputs(plan, derived.inputs, self.sealing_key)
        if sealed is not None:
            record.settings[sealing.SETTING] = sealed
        if derived.overrides:
            record.settings["overrides"] = derived.overrides
        await remote(self.recorder.commit.remote([CreateExecution(record=record)]))
        order = RunOrder(
            definition=self._definition_for(workflow, record),
            record=record.model_copy(update={"inputs": derived.inputs, "steps": []}),
            families=sorted(self.settings.enabled_families()),
            env=self.settings.allowed_env(),
            options=RunOptions.model_validate(record.settings.get("options", {})),
            resume="retry" if derived.seeded else None,
            overrides=derived.overrides,
            commit_each_step=self.settings.step_commit == "step",
        )
        self._admit(order, record.inputs)
        return record
