"""The ``workflow`` node: start a registered workflow as a child execution and wait for it.

It runs inline, in the parent's ExecutionActor, and asks the runtime (``ctx.runtime``: a
:class:`ChildRuns`) to start the child with the attempt's idempotency key, so a step repeated
after a crash finds the child it started instead of starting another. docs/dsl.md,
"Sub-workflows".
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ErrorCategory, HubError, InputsInvalid, NotFound, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import node_type
from hub.records import ExecutionRecord, ExecutionStatus


class ChildRuns(Protocol):
    """The runtime's side of the workflow node (actors/_children.py implements it)."""

    async def start_child(
        self,
        workflow_id: str,
        version: str | None,
        inputs: dict[str, Any],
        *,
        key: str,
        node_id: str,
        wait: bool,
    ) -> ExecutionRecord: ...

    async def wait(self, execution_id: str) -> ExecutionRecord: ...

    async def abandon(self, execution_id: str) -> None:
        """The parent's step was stopped (cancel, timeout, halt): cancel the child, unless the
        parent was taken over by another runner, which goes on waiting for it."""


class WorkflowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field(min_length=1, max_length=64)
    version: str | None = Field(default=None, min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True


def child_failure(params: WorkflowParams, child: ExecutionRecord) -> StepFailed:
    error = child.error
    category = ErrorCategory.NODE_ERROR
    if error is not None and error.category in ErrorCategory.__members__.values():
        category = ErrorCategory(error.category)
    if category == ErrorCategory.CANCELLED:
        category = ErrorCategory.NODE_ERROR  # the parent step failed; it was not cancelled
    why = f": {error.message}" if error is not None else ""
    return StepFailed(
        f"sub-workflow {params.workflow_id} (execution {child.id}) {child.status.value}{why}",
        category=category,
        details={"child_execution_id": child.id, "child_status": child.status.value},
    )


@node_type("workflow", parameters=WorkflowParams, inline=True, default_timeout_s=None)
async def run_workflow(params: WorkflowParams, ctx: NodeContext) -> Any:
    """Run another registered workflow as a child execution; output its outputs."""
    children: ChildRuns | None = ctx.runtime
    if children is None:
        raise StepFailed(
            "workflow nodes need a runtime (hub up or hub.connect()), not an in-process run",
            category=ErrorCategory.VALIDATION,
        )
    try:
        child = await children.start_child(
            params.workflow_id,
            params.version,
            params.inputs,
            key=ctx.idempotency_key,
            node_id=ctx.node_id,
            wait=params.wait,
        )
    except (NotFound, InputsInvalid) as exc:
        raise StepFailed(
            f"sub-workflow {params.workflow_id}: {exc}", category=ErrorCategory.VALIDATION
        ) from None
    except HubError as exc:
        raise StepFailed(f"sub-workflow {params.workflow_id}: {exc}") from None
    ctx.log("info", f"started sub-workflow {params.workflow_id}", execution_id=child.id)
    if not params.wait:
        return {"execution_id": child.id, "status": child.status.value}
    try:
        final = await children.wait(child.id)
    except asyncio.CancelledError:
        await asyncio.shield(children.abandon(child.id))
        raise
    if final.status != ExecutionStatus.COMPLETED:
        raise child_failure(params, final)
    return {"execution_id": child.id, "status": final.status.value, "outputs": final.outputs}
