"""Starting runs, and the actions that make new executions from old ones (re-run, retry,
retry one step with new parameters, skip a failed step)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response

from hub.debugging import parse_breakpoint
from hub.history import SavedInputs
from hub.records import ExecutionRecord, RunOptions
from serve._backend import RuntimeBackend
from serve._config import API_PREFIX
from serve._deps import audit, audit_with_commit, audit_written, backend
from serve._models import RetryIn, RetryStepIn, RunAccepted, RunRequest, SkipStepIn

router = APIRouter(tags=["runs"])


def links(execution_id: str) -> dict[str, str]:
    base = f"{API_PREFIX}/executions/{execution_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "logs": f"{base}/logs",
        "logs_stream": f"{base}/logs/stream",
        "cancel": f"{base}/cancel",
    }


def accepted(record: ExecutionRecord) -> RunAccepted:
    return RunAccepted(execution_id=record.id, status=record.status.value, links=links(record.id))


@router.post("/workflows/{workflow_id}/runs", status_code=202, response_model=RunAccepted)
async def start_run(
    request: Request,
    response: Response,
    workflow_id: str,
    body: RunRequest,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=255),
    api: RuntimeBackend = Depends(backend),
) -> RunAccepted:
    """Validate the inputs (422 with field paths), record the run and start or queue it.

    A repeated ``Idempotency-Key`` answers with the execution the first request made
    (header ``Idempotent-Replayed: true``); nothing runs twice.
    """
    options = body.options
    inputs = dict(body.inputs)
    if options.saved_inputs_id:
        saved: SavedInputs = await api.recorder_call("get_saved_inputs", options.saved_inputs_id)
        inputs = {**saved.inputs, **inputs}
    proposed = uuid.uuid4().hex
    # Written by the supervisor in the same commit as the execution: durable with it.
    entry = audit_with_commit(request, 202, "run.start", proposed, workflow_id=workflow_id)
    record: ExecutionRecord = await api.supervisor_call(
        "submit",
        workflow_id,
        inputs,
        version=options.version,
        trigger=options.trigger,
        idempotency_key=idempotency_key or None,
        execution_id=proposed,
        options=RunOptions(
            debug=options.debug,
            breakpoints=[parse_breakpoint(b) for b in options.breakpoints],
            timeout_s=options.timeout_s,
        ),
        audit=entry,
    )
    audit_written(request)  # a replayed start changes nothing: no entry then
    response.headers["Location"] = links(record.id)["self"]
    if record.id != proposed:
        response.headers["Idempotent-Replayed"] = "true"
    return accepted(record)


async def _full_id(api: RuntimeBackend, execution_id: str) -> str:
    record: ExecutionRecord = await api.recorder_call("get_execution", execution_id)
    return record.id


async def _derive(
    request: Request, api: RuntimeBackend, execution_id: str, kind: str, **options: Any
) -> RunAccepted:
    full_id = await _full_id(api, execution_id)
    record: ExecutionRecord = await api.supervisor_call("retry", full_id, kind, **options)
    audit(request, f"execution.{kind}", record.id, parent_id=full_id)
    return accepted(record)


_RERUN = "Run the same workflow version again with the same inputs (secrets: pass them again)."


@router.post(
    "/executions/{execution_id}/rerun",
    status_code=202,
    response_model=RunAccepted,
    tags=["executions"],
    description=_RERUN,
)
async def rerun(
    request: Request,
    execution_id: str,
    body: RetryIn | None = None,
    api: RuntimeBackend = Depends(backend),
) -> RunAccepted:
    return await _derive(request, api, execution_id, "rerun", inputs=(body or RetryIn()).inputs)


@router.post(
    "/executions/{execution_id}/retry",
    status_code=202,
    response_model=RunAccepted,
    tags=["executions"],
)
async def retry(
    request: Request,
    execution_id: str,
    body: RetryIn | None = None,
    api: RuntimeBackend = Depends(backend),
) -> RunAccepted:
    """Retry a failed or cancelled execution from its failed step; completed steps are reused."""
    return await _derive(request, api, execution_id, "retry", inputs=(body or RetryIn()).inputs)


@router.post(
    "/executions/{execution_id}/retry-step",
    status_code=202,
    response_model=RunAccepted,
    tags=["executions"],
)
async def retry_step(
    request: Request,
    execution_id: str,
    body: RetryStepIn,
    api: RuntimeBackend = Depends(backend),
) -> RunAccepted:
    """Retry from the failed step (or ``node_id``) with some of its parameters replaced."""
    return await _derive(
        request,
        api,
        execution_id,
        "retry_step",
        node_id=body.node_id,
        parameters=body.parameters,
        inputs=body.inputs,
    )


@router.post(
    "/executions/{execution_id}/skip-step",
    status_code=202,
    response_model=RunAccepted,
    tags=["executions"],
)
async def skip_step(
    request: Request,
    execution_id: str,
    body: SkipStepIn,
    api: RuntimeBackend = Depends(backend),
) -> RunAccepted:
    """Go on past a failed step as if it had returned ``output``."""
    return await _derive(
        request,
        api,
        execution_id,
        "skip_step",
        node_id=body.node_id,
        output=body.output,
        inputs=body.inputs,
    )
