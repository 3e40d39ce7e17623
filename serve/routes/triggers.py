"""Triggers over HTTP: list them, switch one on or off, fire one now (``hub triggers`` as routes).

The routes talk to the TriggerActor (actors/triggers.py) through :func:`triggers_call`, which
the webhook route and ``GET /runtime`` use too.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from hub.errors import HubError, InvalidRequest, RuntimeUnavailable
from hub.records import ExecutionRecord
from hub.runtime import TRIGGERS_NAME
from hub.triggers import TriggerInputError, TriggerView
from serve._backend import RuntimeBackend
from serve._deps import audit, backend
from serve._errors import ApiError
from serve._models import TriggerList, TriggerRun
from serve.routes.runs import links

router = APIRouter(prefix="/triggers", tags=["triggers"])

WORKFLOW = Path(..., min_length=1, max_length=255, description="The workflow's id")
TRIGGER = Path(..., min_length=1, max_length=255, description="The trigger's id in the workflow")

# The TriggerActor's handle, per namespace: looked up once, dropped when a call fails (the
# runtime was stopped and started again: a new actor).
_HANDLES: dict[str, Any] = {}


def _handle(api: RuntimeBackend) -> Any:
    namespace = api.config.namespace
    handle = _HANDLES.get(namespace)
    if handle is None:
        import ray

        try:
            handle = ray.get_actor(TRIGGERS_NAME, namespace=namespace)
        except ValueError:
            raise RuntimeUnavailable(
                "the runtime's trigger service is not running; start the runtime with `hub up`"
            ) from None
        _HANDLES[namespace] = handle
    return handle


async def triggers_call(api: RuntimeBackend, method: str, *args: Any, **kwargs: Any) -> Any:
    """``TriggerActor.method(*args, **kwargs)``, through the backend's one Ray boundary."""
    try:
        return await api.call(_handle(api), method, *args, name="trigger service", **kwargs)
    except RuntimeUnavailable:
        _HANDLES.pop(api.config.namespace, None)
        raise


async def trigger_summary(api: RuntimeBackend) -> dict[str, Any]:
    """The triggers by state, the next fire and those in error (``GET /runtime``); what keeps
    the service from answering, should it not."""
    try:
        found: dict[str, Any] = await triggers_call(api, "summary")
    except HubError as exc:
        return {"unavailable": exc.message}
    return found


def invalid_input(exc: TriggerInputError) -> ApiError:
    """A 422 for what a trigger received that cannot become the workflow's inputs."""
    return ApiError(422, exc.code, exc.message, exc.details)


def started(
    response: Response, record: ExecutionRecord, workflow_id: str, trigger_id: str
) -> TriggerRun:
    response.headers["Location"] = links(record.id)["self"]
    return TriggerRun(
        execution_id=record.id,
        status=record.status.value,
        workflow_id=workflow_id,
        trigger_id=trigger_id,
    )


@router.get("", response_model=TriggerList)
async def list_triggers(
    workflow_id: str | None = Query(default=None, max_length=255, description="Only this one's"),
    api: RuntimeBackend = Depends(backend),
) -> TriggerList:
    """Every trigger of the registered workflows: its type, whether it is enabled, its state,
    the next and the last fire, its fire count and last error, and per type its detail (cron,
    webhook path, queue)."""
    views: list[TriggerView] = await triggers_call(api, "views")
    if workflow_id is not None:
        views = [v for v in views if v.workflow_id == workflow_id]
    return TriggerList(items=views)


@router.get("/{workflow_id}/{trigger_id}", response_model=TriggerView)
async def get_trigger(
    workflow_id: str = WORKFLOW, trigger_id: str = TRIGGER, api: RuntimeBackend = Depends(backend)
) -> TriggerView:
    """One trigger (404 for a workflow or trigger that does not exist)."""
    view: TriggerView = await triggers_call(api, "view", workflow_id, trigger_id)
    return view


async def _switch(
    request: Request, api: RuntimeBackend, workflow_id: str, trigger_id: str, enabled: bool
) -> TriggerView:
    view: TriggerView = await triggers_call(api, "set_enabled", workflow_id, trigger_id, enabled)
    action = "trigger.enable" if enabled else "trigger.disable"
    audit(request, action, f"{workflow_id}/{trigger_id}", workflow_id=workflow_id)
    return view


@router.post("/{workflow_id}/{trigger_id}/enable", response_model=TriggerView)
async def enable_trigger(
    request: Request,
    workflow_id: str = WORKFLOW,
    trigger_id: str = TRIGGER,
    api: RuntimeBackend = Depends(backend),
) -> TriggerView:
    """Switch a trigger on (kept across restarts): a schedule runs from now on, without the
    slots of the time it was off; a consumer connects; a webhook answers again."""
    return await _switch(request, api, workflow_id, trigger_id, True)


@router.post("/{workflow_id}/{trigger_id}/disable", response_model=TriggerView)
async def disable_trigger(
    request: Request,
    workflow_id: str = WORKFLOW,
    trigger_id: str = TRIGGER,
    api: RuntimeBackend = Depends(backend),
) -> TriggerView:
    """Switch a trigger off (kept across restarts, until it is enabled or its workflow is
    deleted): a schedule stops, a consumer closes, a webhook answers 404."""
    return await _switch(request, api, workflow_id, trigger_id, False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_ANY_JSON = {
    "requestBody": {
        "required": False,
        "description": "What the trigger receives as `$trigger.body` (any JSON value)",
        "content": {"application/json": {"schema": {}, "example": {"name": "Ada"}}},
    }
}


@router.post(
    "/{workflow_id}/{trigger_id}/fire",
    status_code=202,
    response_model=TriggerRun,
    openapi_extra=_ANY_JSON,
)
async def fire_trigger(
    request: Request,
    response: Response,
    workflow_id: str = WORKFLOW,
    trigger_id: str = TRIGGER,
    api: RuntimeBackend = Depends(backend),
) -> TriggerRun:
    """Fire a trigger now, enabled or not (a test of its input mapping): the optional JSON body
    plays what a webhook call or a message would carry (``$trigger.body``). The execution
    records ``trigger_info.manual``; 202 with its id, as a run's start."""
    raw = await request.body()
    body: Any = None
    if raw.strip():
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except ValueError as exc:
            raise InvalidRequest(
                f"invalid request: the body is not JSON: {exc}",
                details={"errors": [{"path": "/", "message": f"not JSON: {exc}"}]},
            ) from None
    try:
        record: ExecutionRecord = await triggers_call(api, "fire", workflow_id, trigger_id, body)
    except TriggerInputError as exc:
        raise invalid_input(exc) from None
    audit(request, "trigger.fire", record.id, workflow_id=workflow_id, trigger_id=trigger_id)
    return started(response, record, workflow_id, trigger_id)
