"""Step debugging: breakpoints (conditional allowed), step, continue, evaluate, paused state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from hub.debugging import parse_breakpoint
from serve._backend import RuntimeBackend
from serve._deps import backend
from serve._models import BreakpointsIn, EvaluateIn, EvaluateOut
from serve.routes.executions import control, view_json

router = APIRouter(prefix="/executions/{execution_id}", tags=["debugging"])


@router.get("/debug", response_model=dict[str, Any])
async def inspect(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """Where a run holds: inputs, outputs so far, the next nodes with resolved parameters."""
    return view_json(await control(request, api, execution_id, "inspect"))


@router.put("/breakpoints", response_model=dict[str, Any])
async def set_breakpoints(
    request: Request, execution_id: str, body: BreakpointsIn, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """Replace the breakpoints of a queued, running or paused execution."""
    given = [parse_breakpoint(b).model_dump() for b in body.breakpoints]
    await control(request, api, execution_id, "set breakpoints", given)
    return view_json(await control(request, api, execution_id, "inspect"))


@router.delete("/breakpoints", response_model=dict[str, Any])
async def clear_breakpoints(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    await control(request, api, execution_id, "set breakpoints", [])
    return view_json(await control(request, api, execution_id, "inspect"))


@router.post("/step", response_model=dict[str, Any])
async def step(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """Run the nodes that are ready now, then pause before the next ones."""
    return view_json(await control(request, api, execution_id, "step"))


@router.post("/continue", response_model=dict[str, Any])
async def continue_(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """Run on until the next breakpoint or the end."""
    return view_json(await control(request, api, execution_id, "continue"))


@router.post("/evaluate", response_model=EvaluateOut)
async def evaluate(
    request: Request, execution_id: str, body: EvaluateIn, api: RuntimeBackend = Depends(backend)
) -> EvaluateOut:
    """The value of an expression where the run holds (secrets scrubbed)."""
    value = await control(request, api, execution_id, "evaluate", body.expression)
    return EvaluateOut(expression=body.expression, value=value)
