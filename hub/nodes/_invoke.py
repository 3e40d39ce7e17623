"""Run one node attempt in this process; the one boundary where node exceptions become
:class:`StepFailed`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.errors import ErrorCategory, NodeFamilyDisabled, StepFailed
from hub.nodes._context import NodeCall, NodeContext, NodeResult
from hub.nodes._registry import NodeRegistry, NodeType
from hub.records import ErrorInfo


def validate_parameters(node: NodeType, parameters: dict[str, Any]) -> BaseModel:
    try:
        return node.parameters.model_validate(parameters)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(parameters)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise StepFailed(
            f"invalid parameters for {node.name} node: {problems}",
            category=ErrorCategory.VALIDATION,
        ) from None


def check_family(node: NodeType, enabled_families: list[str] | set[str]) -> None:
    if node.family and node.family not in enabled_families:
        from hub.settings import how_to_enable

        raise NodeFamilyDisabled(
            f"{node.family} nodes are disabled; to enable them, {how_to_enable(node.family)}"
        )


def to_step_failure(exc: BaseException) -> StepFailed:
    """Map anything a node raised to a StepFailed with a category."""
    if isinstance(exc, StepFailed):
        return exc
    if isinstance(exc, NodeFamilyDisabled):
        return StepFailed(exc.message, category=ErrorCategory.VALIDATION)
    if isinstance(exc, TimeoutError):
        return StepFailed("timed out", category=ErrorCategory.TIMEOUT, retryable=True)
    if isinstance(exc, MemoryError | RecursionError):
        return StepFailed(f"{type(exc).__name__}: {exc}", category=ErrorCategory.RESOURCE_LIMIT)
    text = str(exc)
    return StepFailed(
        f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
        category=ErrorCategory.NODE_ERROR,
    )


def step_timeout(timeout_s: float | None) -> StepFailed:
    """The failure of an attempt that ran past its ``timeout_s`` (retryable)."""
    limit = f" after {timeout_s:g}s" if timeout_s is not None else ""
    return StepFailed(f"step timed out{limit}", category=ErrorCategory.TIMEOUT, retryable=True)


def ensure_json(value: Any, node_id: str) -> Any:
    """Outputs are stored and shipped as JSON; refuse anything that is not."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StepFailed(
            f"node {node_id!r} returned a value that is not JSON ({exc})",
            category=ErrorCategory.NODE_ERROR,
        ) from None
    return value


def failure_info(failure: StepFailed, attempts: int, node_id: str) -> ErrorInfo:
    """What is recorded of an attempt that failed: its message, category and retryability."""
    return ErrorInfo(
        message=failure.message,
        category=failure.category.value,
        retryable=failure.retryable,
        attempts=attempts,
        node_id=node_id,
    )


def reported(failure: StepFailed, call: NodeCall) -> NodeResult | ErrorInfo:
    """A failed attempt as a node actor answers it: its ErrorInfo, or a NodeResult carrying the
    error with what the attempt logged before failing (still kept in the log stream)."""
    error = failure_info(failure, call.attempt, call.node_id)
    if failure.logs:
        return NodeResult(logs=failure.logs, error=error.model_dump(mode="json"))
    return error


async def invoke_reporting(registry: NodeRegistry, call: NodeCall) -> NodeResult | ErrorInfo:
    """``invoke`` for a node actor: failures come back as ErrorInfo, so the category and
    retryability cross the process boundary intact."""
    try:
        return await invoke(registry, call)
    except StepFailed as failure:
        return reported(failure, call)


def invoke_blocking_reporting(registry: NodeRegistry, call: NodeCall) -> NodeResult | ErrorInfo:
    """``invoke_reporting`` of a blocking type (NodeType.blocking), in the calling thread: a
    node actor's own thread runs it without an event loop between."""
    ctx: NodeContext | None = None
    try:
        node = registry.get(call.node_type)
        ctx, params = _prepare(node, call)
        return _finished(node.run(params, ctx), ctx, call)
    except (Exception, SystemExit) as exc:  # sys.exit() in a node fails its step, no more
        return reported(_failed(exc, ctx), call)


def unwrap(result: NodeResult | ErrorInfo) -> NodeResult:
    """The caller's side of ``invoke_reporting``: a failure becomes StepFailed again, carrying
    the attempt's logs."""
    logs: list[Any] = []
    if isinstance(result, NodeResult):
        if result.error is None:
            return result
        logs, result = result.logs, ErrorInfo.model_validate(result.error)
    failure = StepFailed(
        result.message, category=ErrorCategory(result.category), retryable=result.retryable
    )
    failure.logs = logs
    raise failure


def _prepare(node: NodeType, call: NodeCall) -> tuple[NodeContext, BaseModel]:
    check_family(node, call.enabled_families)
    params = validate_parameters(node, call.parameters)
    ctx = NodeContext(
        execution_id=call.execution_id,
        workflow_id=call.workflow_id,
        node_id=call.node_id,
        attempt=call.attempt,
    )
    return ctx, params


def _finished(output: Any, ctx: NodeContext, call: NodeCall) -> NodeResult:
    return NodeResult(output=ensure_json(output, call.node_id), logs=ctx.logs)


def _failed(exc: BaseException, ctx: NodeContext | None) -> StepFailed:
    failure = to_step_failure(exc)
    failure.logs = ctx.logs if ctx is not None else []
    return failure


async def invoke(registry: NodeRegistry, call: NodeCall) -> NodeResult:
    """Run ``call`` here (a blocking type in a worker thread). Raises StepFailed on any
    failure."""
    ctx: NodeContext | None = None
    try:
        node = registry.get(call.node_type)
        ctx, params = _prepare(node, call)
        if node.blocking:
            output = await asyncio.to_thread(node.run, params, ctx)
        else:
            output = await node.run(params, ctx)
        return _finished(output, ctx, call)
    except (Exception, SystemExit) as exc:  # sys.exit() in a node fails its step, no more
        raise _failed(exc, ctx) from None


def run_here(
    node_type: str,
    parameters: dict[str, Any],
    *,
    enabled_families: Iterable[str] = (),
    registry: NodeRegistry | None = None,
) -> NodeResult:
    """One attempt of ``node_type`` in this process, as a node actor runs it, from code that
    is not in an event loop: for testing a node and for benchmarks (docs/nodes.md). Raises
    StepFailed as the attempt would fail."""
    from hub.nodes._registry import default_registry

    call = NodeCall(
        execution_id="local",
        workflow_id="local",
        node_id="node",
        node_type=node_type,
        attempt=1,
        parameters=parameters,
        enabled_families=sorted(enabled_families),
    )
    return asyncio.run(invoke(registry or default_registry(), call))
