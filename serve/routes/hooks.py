"""Webhooks: ``POST /api/v1/hooks/{workflow_id}/{trigger_id}`` starts a run of a workflow's
``webhook`` trigger (docs/api.md, "Webhooks").

This is the one route mounted without :func:`serve._auth.require_token`: a call is
authenticated by the API token or, for a trigger with a ``secret``, by ``X-Hub-Signature-256``
(an HMAC-SHA256 of the raw body), which the TriggerActor checks (``webhook``: it is told whether
the token was valid, maps what the call carried onto the inputs and starts the run). A caller
without the token learns no more than it must: an unknown or disabled webhook is one plain 404
that names no other trigger, and nothing of a refused call reaches the store.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from hub.errors import HubError, NotFound
from hub.records import ExecutionRecord
from hub.triggers import (
    TriggerInputError,
    WebhookRejected,
    WebhookTrigger,
    idempotency_key,
)
from serve._auth import token_status
from serve._backend import RuntimeBackend
from serve._deps import audit, audit_written, backend
from serve._errors import ApiError
from serve._models import TriggerRun, WebhookOutputs
from serve.routes.runs import links
from serve.routes.triggers import TRIGGER, WORKFLOW, invalid_input, triggers_call

router = APIRouter(tags=["webhooks"])

_OPENAPI = {
    # The token is optional here: a call may be signed instead (the X-Hub-Signature-256 header).
    "security": [{}],  # added to the bearer scheme the token_status dependency declares
    "requestBody": {
        "required": False,
        "description": "Any body: JSON is decoded into `$trigger.body`, other text is passed as "
        'a string, other bytes as `{"base64", "content_type"}`. A signed call signs these '
        "exact bytes.",
        "content": {"application/json": {"schema": {}, "example": {"order": 42}}},
    },
}


@router.post(
    "/hooks/{workflow_id}/{trigger_id}",
    status_code=202,
    response_model=TriggerRun,
    responses={
        200: {
            "model": WebhookOutputs,
            "description": "`respond: outputs`: the run ended within the trigger's `timeout_s`",
        },
        202: {
            "model": TriggerRun,
            "description": "The run is recorded and started (or, for `respond: outputs`, still "
            "running at the timeout); `Location` names the execution",
        },
    },
    openapi_extra=_OPENAPI,
)
async def call_webhook(
    request: Request,
    workflow_id: str = WORKFLOW,
    trigger_id: str = TRIGGER,
    token_ok: bool = Depends(token_status),
    key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        max_length=255,
        description="A repeated call with the same key answers with the first call's execution",
    ),
    # Declared for the OpenAPI document; the TriggerActor reads it from the headers.
    signature: str | None = Header(
        default=None,
        alias="X-Hub-Signature-256",
        max_length=100,
        description="`sha256=<hex HMAC-SHA256 of the raw body>` with the trigger's secret, for "
        "a call without the API token",
    ),
    api: RuntimeBackend = Depends(backend),
) -> Any:
    """Start a run of the workflow's webhook trigger with what the call carries (body, headers,
    query: ``$trigger.body``, ``$trigger.headers``, ``$trigger.query``). 202 with the execution
    (``respond: accepted``), or 200 with its outputs once it ends (``respond: outputs``, within
    the trigger's ``timeout_s``; past it, 202). 401 without the token or a valid signature, 404
    for an unknown or disabled webhook, 422 when the call cannot become the workflow's inputs."""
    body = await request.body()
    headers = dict(request.headers.items())  # Starlette gives the names in lower case
    query = {
        name: values[0] if len(values) == 1 else values
        for name in request.query_params
        for values in [request.query_params.getlist(name)]
    }
    caller_key = key or None
    # Looked up before the call only to tell a replay (its answer says so, and it adds no
    # audit entry); the start itself is deduplicated by the key, in the store.
    earlier: ExecutionRecord | None = None
    if caller_key is not None:
        earlier = await api.recorder_call(
            "find_by_idempotency_key",
            idempotency_key("webhook", workflow_id, trigger_id, caller_key),
        )
    try:
        record, spec = await triggers_call(
            api, "webhook", workflow_id, trigger_id, body, headers, query, token_ok=token_ok
        )
    except WebhookRejected as exc:
        raise ApiError(401, exc.code, exc.message) from None
    except NotFound:
        if token_ok:
            raise  # the operator's message: which triggers exist, how to enable this one
        raise NotFound(f"no webhook {workflow_id}/{trigger_id}, or it is disabled") from None
    except TriggerInputError as exc:
        raise invalid_input(exc) from None
    assert isinstance(record, ExecutionRecord) and isinstance(spec, WebhookTrigger)

    replayed = earlier is not None and earlier.id == record.id
    if not token_ok:  # signed: the audit names the trigger as the caller
        request.state.actor = f"webhook:{workflow_id}/{trigger_id}"
    if replayed:
        audit_written(request)  # a replay changes nothing: no entry, as for a run's start
    else:
        auth = "token" if token_ok else "signature"
        audit(
            request,
            "webhook.call",
            record.id,
            workflow_id=workflow_id,
            trigger_id=trigger_id,
            auth=auth,
        )
    answer_headers = {"Location": links(record.id)["self"]}
    if replayed:
        answer_headers["Idempotent-Replayed"] = "true"

    if spec.respond == "outputs":
        record = await _ended(api, record.id, spec.timeout_s)
        if record.status.terminal:
            result = WebhookOutputs(
                execution_id=record.id,
                status=record.status.value,
                workflow_id=workflow_id,
                trigger_id=trigger_id,
                outputs=record.outputs,
                error=record.error,
            )
            return JSONResponse(result.model_dump(mode="json"), 200, answer_headers)
    run = TriggerRun(
        execution_id=record.id,
        status=record.status.value,
        workflow_id=workflow_id,
        trigger_id=trigger_id,
    )
    return JSONResponse(run.model_dump(mode="json"), 202, answer_headers)


async def _ended(api: RuntimeBackend, execution_id: str, timeout_s: float) -> ExecutionRecord:
    """The execution once it ended, or as it is after ``timeout_s``."""
    try:
        record: ExecutionRecord = await api.supervisor_call("wait", execution_id, timeout_s)
    except HubError:
        # Past the timeout the supervisor's wait raises TimeoutError, which reaches here as the
        # runtime failing; whatever made the wait fail, what the store holds decides the answer.
        record = await api.recorder_call("get_execution", execution_id)
    return record
