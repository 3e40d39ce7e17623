"""Circuit breakers (hub.breakers): list them, and close one or all by hand.

The BreakerActor exists once a workflow with breakers on has run; until then the list is empty
and no key is known (404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from hub.breakers import BREAKERS_NAME, BreakerSummary, BreakerView
from hub.errors import NotFound
from serve._backend import RuntimeBackend
from serve._deps import audit, backend

router = APIRouter(prefix="/breakers", tags=["breakers"])

KEY = Path(
    ...,
    min_length=1,
    max_length=300,
    description="the breaker's key: `http:<host>:<port>`, `node:<workflow>:<node>` or "
    "`workflow:<workflow>`",
)


class BreakerList(BaseModel):
    items: list[BreakerView]
    summary: BreakerSummary


class BreakersReset(BaseModel):
    reset: list[str]  # the keys that were open or half-open


def _board(api: RuntimeBackend) -> Any | None:
    """The BreakerActor, or None while no workflow has used a breaker."""
    import ray

    try:
        return ray.get_actor(BREAKERS_NAME, namespace=api.config.namespace)
    except ValueError:
        return None


@router.get("", response_model=BreakerList)
async def list_breakers(api: RuntimeBackend = Depends(backend)) -> BreakerList:
    """Every circuit breaker with its state, failures within its window, when it was opened
    and when it lets a probe through, and its settings; with a count by state."""
    board = _board(api)
    items: list[BreakerView] = (
        [] if board is None else await api.call(board, "breakers", name="circuit breakers")
    )
    return BreakerList(items=items, summary=BreakerSummary.of(items))


@router.post("/reset", response_model=BreakersReset)
async def reset_all_breakers(
    request: Request, api: RuntimeBackend = Depends(backend)
) -> BreakersReset:
    """Close every breaker now, forgetting its failures."""
    board = _board(api)
    reset: list[str] = (
        [] if board is None else await api.call(board, "reset_all", name="circuit breakers")
    )
    audit(request, "breakers.reset_all", None, reset=reset)
    return BreakersReset(reset=reset)


@router.post("/{key}/reset", response_model=BreakerView)
async def reset_breaker(
    request: Request, key: str = KEY, api: RuntimeBackend = Depends(backend)
) -> BreakerView:
    """Close one breaker now, forgetting its failures (404 for a key no call has used)."""
    board = _board(api)
    if board is None:
        raise NotFound(f"no circuit breaker {key!r}; GET /api/v1/breakers lists them")
    view: BreakerView = await api.call(board, "reset", key, name="circuit breakers")
    audit(request, "breakers.reset", key, state=view.state.value)
    return view
