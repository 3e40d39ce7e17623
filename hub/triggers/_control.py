"""The runtime-wide AMQP control queue (settings ``amqp_control``; the seed's WorkflowRunner
subscribes to ``workflow.start``, ``workflow.pause``, ``workflow.resume``, ``workflow.cancel``).

A control message is a JSON object::

    {"action": "workflow.start", "workflow_id": "orders", "inputs": {...}, "version": "..."}
    {"action": "workflow.pause" | "workflow.resume", "execution_id": "..."}
    {"action": "workflow.cancel", "execution_id": "...", "reason": "..."}

``action`` may instead be the message's routing key or its ``type`` property (so a topic
exchange bound with ``workflow.*`` can route the seed's event names). A start with a
``message_id`` is idempotent (key ``amqp:{workflow}:hub.control:{message id}``). Messages are
handled as a trigger's are: acked once the action is done, dead-lettered (``<queue>.dead``) with
the reason when it is refused for good (malformed, no such workflow or execution, an illegal
transition), retried while the runtime cannot take it. A message with ``reply_to`` gets an
answer there (``ok``, the execution id and status, or the error), with its ``correlation_id``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.errors import HubError
from hub.triggers._amqp import Delivery, decode_body
from hub.triggers._fire import idempotency_key

CONTROL_ACTIONS = ("workflow.start", "workflow.pause", "workflow.resume", "workflow.cancel")
CONTROL_TRIGGER_ID = "hub.control"  # not a valid trigger id: never a workflow's own trigger's
ControlAction = Literal["workflow.start", "workflow.pause", "workflow.resume", "workflow.cancel"]


class ControlMessageInvalid(HubError):
    """A control message that names no action it can take (it is dead-lettered)."""

    code = "invalid_control_message"


class ControlCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ControlAction
    workflow_id: str | None = Field(default=None, min_length=1)
    version: str | None = None
    execution_id: str | None = Field(default=None, min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None

    @model_validator(mode="after")
    def _target(self) -> ControlCommand:
        if self.action == "workflow.start":
            if self.workflow_id is None or self.execution_id is not None:
                raise ValueError("workflow.start takes a workflow_id (and no execution_id)")
        elif self.execution_id is None or self.workflow_id is not None:
            raise ValueError(f"{self.action} takes an execution_id (and no workflow_id)")
        if self.action != "workflow.start" and (self.inputs or self.version):
            raise ValueError(f"{self.action} takes no inputs or version")
        if self.action != "workflow.cancel" and self.reason is not None:
            raise ValueError(f"{self.action} takes no reason")
        return self


def parse_control(delivery: Delivery, *, message_type: str | None = None) -> ControlCommand:
    """The command a control message carries; ControlMessageInvalid says what is wrong."""
    body = decode_body(delivery.body, delivery.content_type)
    if not isinstance(body, dict):
        raise ControlMessageInvalid("a control message's body must be a JSON object")
    if "action" not in body:
        named = [n for n in (delivery.routing_key, message_type) if n in CONTROL_ACTIONS]
        if not named:
            raise ControlMessageInvalid(
                "a control message needs an action (one of " + ", ".join(CONTROL_ACTIONS) + ") "
                "in its body, its routing key or its type"
            )
        body = {**body, "action": named[0]}
    try:
        return ControlCommand.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
        )
        raise ControlMessageInvalid(f"invalid control message: {problems}") from None


def start_key(command: ControlCommand, message_id: str | None) -> str | None:
    """The idempotency key of a ``workflow.start`` with a message id."""
    if not message_id or command.workflow_id is None:
        return None
    return idempotency_key("amqp", command.workflow_id, CONTROL_TRIGGER_ID, message_id)


def start_info(message_id: str | None, routing_key: str | None) -> dict[str, Any]:
    """The ``trigger_info`` of an execution a control message started."""
    return {
        "id": CONTROL_TRIGGER_ID,
        "type": "amqp",
        "message_id": message_id or None,
        "routing_key": routing_key,
    }


def reply(
    command: ControlCommand | None,
    *,
    execution_id: str | None = None,
    status: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The answer sent to a control message's ``reply_to``."""
    answer: dict[str, Any] = {"ok": error is None}
    if command is not None:
        answer["action"] = command.action
    if execution_id is not None:
        answer["execution_id"] = execution_id
    if status is not None:
        answer["status"] = status
    if error is not None:
        answer["error"] = error
    return answer
