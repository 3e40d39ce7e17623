"""AMQP triggers, the pure part: what a delivered message becomes (``$trigger`` and its fire),
what the dead-letter queue receives, and the terminal event an execution publishes.

The consumer (actors/amqp.py) follows these rules:

- A message is acked only after the TriggerActor's ``submit`` returned: its execution is
  durably created. A consumer killed before that leaves it unacked, and the broker redelivers it.
- The message id dedupes: the fire's idempotency key is ``amqp:{workflow}:{trigger}:{message
  id}``, so a redelivered message finds the execution its first delivery made. A message
  without a ``message_id`` has no key: a redelivery (after a consumer crash between submit and
  ack) may start a second run.
- A message whose inputs are invalid, or that the runtime refuses for good (a validation error,
  its workflow gone), is published to the dead-letter queue with its body, properties and
  headers, the reason in ``x-hub-reason``, and then acked: never lost, never retried forever.
- Anything else (the runtime restarting or stopping, an actor gone) is transient: the message
  stays unacked and is submitted again after a growing delay (``retry_delay_s``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from hub.errors import HubError
from hub.records import ExecutionRecord
from hub.triggers._fire import Fire, TriggerInputError, make_fire
from hub.triggers._model import AmqpPublish, AmqpTrigger

REASON_HEADER = "x-hub-reason"
# What else a dead-lettered message carries, so its origin is found without the logs.
WORKFLOW_HEADER = "x-hub-workflow"
TRIGGER_HEADER = "x-hub-trigger"
QUEUE_HEADER = "x-hub-queue"
_MAX_REASON = 2000
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 15.0


class Outcome(StrEnum):
    """What became of a message (``ray_hub_amqp_messages_total{outcome}``)."""

    STARTED = "started"  # its execution was created and the message acked
    DUPLICATE = "duplicate"  # its message id found the execution an earlier delivery made
    DEAD_LETTERED = "dead_lettered"  # refused for good: in the dead-letter queue, acked
    RETRIED = "retried"  # the runtime could not take it yet: submitted again later (counted
    # once per attempt; the message ends with one of the other outcomes)
    APPLIED = "applied"  # a control message's pause, resume or cancel was done


@dataclass(frozen=True)
class Delivery:
    """A delivered message, as plain values (the consumer copies it out of aio-pika's)."""

    body: bytes
    headers: Mapping[str, Any]
    routing_key: str | None = None
    exchange: str | None = None
    message_id: str | None = None
    content_type: str | None = None
    redelivered: bool = False


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_body(body: bytes, content_type: str | None = None) -> Any:
    """The body as JSON when it parses as JSON, else as text, else base64 of its bytes (with
    its content type); None when it is empty."""
    if not body:
        return None
    try:  # NaN and Infinity are not JSON: such a body is kept as text
        return json.loads(body, parse_constant=_not_json)
    except ValueError:
        pass
    try:
        return body.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode(), "content_type": content_type}


def plain_value(value: Any) -> Any:
    """An AMQP field value as JSON: byte strings as text (base64 when not UTF-8), timestamps
    as ISO 8601, decimals as numbers; tables and arrays value by value."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


def received(spec: AmqpTrigger, delivery: Delivery, fired_at: datetime) -> dict[str, Any]:
    """``$trigger`` for one message."""
    return {
        "type": "amqp",
        "id": spec.id,
        "body": decode_body(delivery.body, delivery.content_type),
        "headers": plain_value(dict(delivery.headers)),
        "routing_key": delivery.routing_key,
        "exchange": delivery.exchange,
        "message_id": delivery.message_id or None,
        "fired_at": fired_at.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
    }


def fire_for(workflow_id: str, spec: AmqpTrigger, delivery: Delivery, fired_at: datetime) -> Fire:
    """The fire a message makes, keyed by its message id (when it has one). Raises
    TriggerInputError when the trigger's ``inputs`` cannot be computed from it."""
    message_id = delivery.message_id or None
    return make_fire(
        workflow_id,
        spec,
        "amqp",
        received(spec, delivery, fired_at),
        key_part=message_id,
        info={"message_id": message_id, "routing_key": delivery.routing_key},
    )


def refusal_reason(exc: BaseException) -> str | None:
    """Why a message is refused for good (it goes to the dead-letter queue), or None when the
    failure is transient and the message is to be submitted again.

    ``exc`` is what the submit raised once Ray's wrapping is taken off: a TriggerInputError or
    a HubError with a code of its own (inputs invalid, workflow gone, refused) is final; the
    generic HubError (the runtime is stopping, the triggers are loading) and anything that is
    not a HubError (an actor restarting, a connection lost) are transient.
    """
    if isinstance(exc, TriggerInputError):
        return exc.message
    if isinstance(exc, HubError) and exc.code != HubError.code:
        return exc.message
    return None


def retry_delay_s(attempt: int) -> float:
    """How long to wait before submitting a message again after ``attempt`` transient failures
    (0 = the first): doubling from RETRY_FIRST_S up to RETRY_MAX_S."""
    return float(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** min(attempt, 16)))


def dead_letter_headers(
    headers: Mapping[str, Any],
    reason: str,
    *,
    queue: str,
    workflow_id: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """The headers of a dead-lettered copy: the original ones plus the reason and origin."""
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 1] + "…"
    origin = {WORKFLOW_HEADER: workflow_id, TRIGGER_HEADER: trigger_id, QUEUE_HEADER: queue}
    return {
        **dict(headers),
        REASON_HEADER: reason,
        **{name: value for name, value in origin.items() if value is not None},
    }


def is_duplicate(record: ExecutionRecord, submitted_at: datetime) -> bool:
    """Whether ``submit`` answered with an execution made before this delivery was submitted
    (its message id found an earlier one) rather than one it created."""
    return record.created_at < submitted_at


def terminal_event(record: ExecutionRecord) -> dict[str, Any]:
    """The event published for an ended execution (``publish``): its outputs when it
    completed, its error otherwise."""
    event: dict[str, Any] = {
        "execution_id": record.id,
        "workflow_id": record.workflow_id,
        "status": record.status.value,
    }
    if record.error is not None:
        event["error"] = record.error.model_dump(mode="json")
    else:
        event["outputs"] = plain_value(record.outputs)
    return event


def event_routing_key(publish: AmqpPublish, workflow_id: str, status: str) -> str:
    """``publish.routing_key``, by default ``<workflow_id>.<status>``."""
    return publish.routing_key or f"{workflow_id}.{status}"


@dataclass
class ConsumerCounts:
    """What a consumer did since it started (its part of ``hub triggers ls``)."""

    started_at: datetime
    connected: bool = False
    consumed: int = 0
    started: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0
    applied: int = 0
    published: int = 0
    publish_failures: int = 0
    error: str | None = None

    def count(self, outcome: Outcome) -> None:
        if outcome is Outcome.STARTED:
            self.started += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        elif outcome is Outcome.DEAD_LETTERED:
            self.dead_lettered += 1
        elif outcome is Outcome.APPLIED:
            self.applied += 1
        else:
            self.retried += 1

    def as_status(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "since": self.started_at.isoformat(),
            "consumed": self.consumed,
            "started": self.started,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "retried": self.retried,
            "applied": self.applied,
            "published": self.published,
            "publish_failures": self.publish_failures,
            "error": self.error,
        }
