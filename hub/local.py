"""Run an execution in this process, without Ray: for tests, and for checking a workflow.

The runtime proper runs the same :class:`ExecutionRunner` inside an ExecutionActor with node-pool
actors as the dispatcher and the Recorder as the journal.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from hub.inputs import redact_inputs, validate_inputs
from hub.nodes import NodeCall, NodeResult, default_registry, invoke, step_timeout
from hub.plan import ExecutionPlan, PlanNode
from hub.records import CreateExecution, ExecutionRecord, ExecutionStatus, StoreWrite
from hub.runner import ExecutionRunner


class MemoryJournal:
    """Keeps every write in a list; ``flush`` counts how often durability was asked for."""

    def __init__(self) -> None:
        self.writes: list[StoreWrite] = []
        self.flushes = 0
        self.superseded = False  # nothing else writes to a memory journal

    def emit(self, write: StoreWrite) -> None:
        self.writes.append(write)

    async def flush(self) -> None:
        self.flushes += 1

    async def checkpoint(self) -> None:
        await self.flush()


async def dispatch_in_process(
    node: PlanNode, call: NodeCall, timeout_s: float | None
) -> NodeResult:
    try:
        async with asyncio.timeout(timeout_s):
            return await invoke(default_registry(), call)
    except TimeoutError:
        raise step_timeout(timeout_s) from None


def new_execution(
    plan: ExecutionPlan,
    inputs: Mapping[str, Any],
    *,
    trigger: str = "local",
    execution_id: str | None = None,
) -> tuple[ExecutionRecord, dict[str, Any]]:
    """A queued execution record (inputs redacted) and the validated inputs to run with; its
    id is ``execution_id`` when the caller chose one, else a new one."""
    validated = validate_inputs(dict(plan.inputs), dict(inputs))
    record = ExecutionRecord(
        id=execution_id or uuid.uuid4().hex,
        workflow_id=plan.workflow_id,
        workflow_version=plan.version,
        status=ExecutionStatus.QUEUED,
        trigger=trigger,
        inputs=redact_inputs(dict(plan.inputs), validated),
    )
    return record, validated


async def run_in_process(
    plan: ExecutionPlan,
    inputs: Mapping[str, Any] | None = None,
    *,
    journal: MemoryJournal | None = None,
    enabled_families: frozenset[str] = frozenset({"code", "shell"}),
) -> ExecutionRecord:
    record, validated = new_execution(plan, inputs or {})
    journal = journal if journal is not None else MemoryJournal()
    journal.emit(CreateExecution(record=record.model_copy()))
    runner_record = record.model_copy(update={"inputs": validated})
    runner = ExecutionRunner(
        plan,
        runner_record,
        dispatch=dispatch_in_process,
        journal=journal,
        enabled_families=enabled_families,
    )
    result = await runner.run()
    return result.model_copy(update={"inputs": record.inputs})
