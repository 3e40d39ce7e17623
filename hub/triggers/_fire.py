"""A trigger's fire: the inputs it maps, the idempotency key that makes a repeat find the run
it already made, and the ``trigger_info`` the execution records."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from hub.errors import HubError
from hub.expressions import compile_value
from hub.triggers._model import _Trigger

# Idempotency keys are stored in a 255-character column; a caller's part longer than this is
# replaced by its SHA-256.
_MAX_CALLER_KEY = 128


class TriggerInputError(HubError):
    """What a trigger received cannot be turned into the workflow's inputs."""

    code = "invalid_trigger_input"


class WebhookRejected(HubError):
    """A webhook call without the API token or a valid signature (HTTP 401)."""

    code = "unauthorized"


@dataclass(frozen=True)
class Fire:
    workflow_id: str
    trigger_id: str
    kind: str  # the execution's `trigger`: schedule, webhook, amqp, startup
    inputs: dict[str, Any]
    info: dict[str, Any]  # the execution's `trigger_info`
    idempotency_key: str | None


def _caller_part(value: str) -> str:
    if len(value) <= _MAX_CALLER_KEY:
        return value
    return "sha256-" + hashlib.sha256(value.encode()).hexdigest()


def idempotency_key(kind: str, workflow_id: str, trigger_id: str, part: str) -> str:
    """``schedule:{workflow}:{trigger}:{slot}`` (likewise for the other types)."""
    return f"{kind}:{workflow_id}:{trigger_id}:{_caller_part(part)}"


def map_inputs(spec: _Trigger, received: dict[str, Any]) -> dict[str, Any]:
    """The workflow's inputs for one fire: ``spec.inputs`` rendered over ``$trigger``, or, when
    the trigger maps none, the body it received if that is a JSON object (else no inputs)."""
    if spec.inputs is None:
        body = received.get("body")
        return dict(body) if isinstance(body, dict) else {}
    try:
        rendered = compile_value(spec.inputs).render({"trigger": received})
    except HubError as exc:
        raise TriggerInputError(
            f"trigger {spec.id!r}: its inputs could not be computed from what it received: "
            f"{exc.message}"
        ) from None
    assert isinstance(rendered, dict)
    return rendered


def make_fire(
    workflow_id: str,
    spec: _Trigger,
    kind: str,
    received: dict[str, Any],
    *,
    key_part: str | None,
    info: dict[str, Any] | None = None,
) -> Fire:
    """``received`` is ``$trigger``; ``key_part`` (a slot, a message id, a caller's key) makes
    the fire idempotent, None leaves it without a key."""
    record_info = {"id": spec.id, "type": kind, **(info or {})}
    key = idempotency_key(kind, workflow_id, spec.id, key_part) if key_part else None
    return Fire(
        workflow_id=workflow_id,
        trigger_id=spec.id,
        kind=kind,
        inputs=map_inputs(spec, received),
        info=record_info,
        idempotency_key=key,
    )


SIGNATURE_HEADER = "x-hub-signature-256"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value for ``body`` (GitHub's convention)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` (compared in constant time)."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())
