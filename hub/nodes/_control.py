"""Control-flow node types: run inline in the ExecutionActor, deterministic, cheap."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ErrorCategory, StepFailed
from hub.expressions import format_value
from hub.nodes._context import NodeContext
from hub.nodes._registry import NoParameters, node_type
from hub.records import utcnow


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetParams(_Params):
    values: dict[str, Any] = Field(default_factory=dict)


@node_type("set", parameters=SetParams, inline=True, instant=True)
async def run_set(params: SetParams, ctx: NodeContext) -> Any:
    """Output the resolved ``values`` object."""
    return params.values


class ConditionParams(_Params):
    expression: Any


def _condition_port(output: Any) -> str:
    return "true" if output["result"] else "false"


@node_type(
    "condition",
    parameters=ConditionParams,
    inline=True,
    instant=True,
    ports=lambda _raw: frozenset({"true", "false"}),
    port_of=_condition_port,
)
async def run_condition(params: ConditionParams, ctx: NodeContext) -> Any:
    """Evaluate ``expression``; its truth picks the ``true`` or ``false`` port."""
    return {"result": bool(params.expression)}


class SwitchParams(_Params):
    value: Any
    cases: list[str] = Field(min_length=1)


def _switch_ports(raw: dict[str, Any]) -> frozenset[str] | None:
    cases = raw.get("cases")
    if not isinstance(cases, list) or any(isinstance(c, str) and "{{" in c for c in cases):
        return None  # decided at run time: any port name is accepted
    return frozenset({str(c) for c in cases} | {"default"})


@node_type(
    "switch",
    parameters=SwitchParams,
    inline=True,
    instant=True,
    ports=_switch_ports,
    port_of=lambda output: str(output["case"]),
)
async def run_switch(params: SwitchParams, ctx: NodeContext) -> Any:
    """Take the port named by ``value`` (compared as text) or ``default``."""
    text = params.value if isinstance(params.value, str) else format_value(params.value)
    return {"value": params.value, "case": text if text in params.cases else "default"}


@node_type("merge", parameters=NoParameters, inline=True, instant=True)
async def run_merge(params: NoParameters, ctx: NodeContext) -> Any:
    """Collect the outputs of the upstream nodes whose edges were taken."""
    return dict(ctx.upstream)


class DelayParams(_Params):
    seconds: float = Field(ge=0, le=7 * 86400)


# No limit of its own: ``seconds`` bounds it (up to a week), and a node's timeout_s still does.
@node_type("delay", parameters=DelayParams, inline=True, default_timeout_s=None)
async def run_delay(params: DelayParams, ctx: NodeContext) -> Any:
    """Sleep without blocking a thread; cancellation interrupts it. A delay resumed after a
    restart sleeps what is left of its time from when it first started (nothing when that time
    has passed), so a run sleeping through a ``hub down``/``hub up`` wakes when it was due.
    ``slept_s`` is the time since the delay started, the restart included."""
    started = time.monotonic()
    waited_s = 0.0
    if ctx.resumed_from is not None:
        since = ctx.resumed_from
        since = since if since.tzinfo else since.replace(tzinfo=UTC)  # stored times are UTC
        waited_s = max(0.0, (utcnow() - since).total_seconds())
    await asyncio.sleep(max(0.0, params.seconds - waited_s))
    return {"slept_s": round(waited_s + time.monotonic() - started, 6)}


class LogParams(_Params):
    message: Any
    level: Literal["debug", "info", "warn", "error"] = "info"


@node_type("log", parameters=LogParams, inline=True, instant=True)
async def run_log(params: LogParams, ctx: NodeContext) -> Any:
    """Write a log entry for the execution."""
    message = params.message if isinstance(params.message, str) else format_value(params.message)
    ctx.log(params.level, message)
    return {"logged": True, "message": message}


class FailParams(_Params):
    message: Any = "failed"
    retryable: bool = False


@node_type("fail", parameters=FailParams, inline=True, instant=True)
async def run_fail(params: FailParams, ctx: NodeContext) -> Any:
    """Always fail with ``message``."""
    message = params.message if isinstance(params.message, str) else format_value(params.message)
    raise StepFailed(message, category=ErrorCategory.NODE_ERROR, retryable=params.retryable)
