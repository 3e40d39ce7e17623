"""Triggers: what starts a workflow's runs by itself (docs/dsl.md, "Triggers").

The pure parts live here: the trigger specs (validated by the compiler), schedule slots and
misfire policies, input mapping over ``$trigger``, idempotency keys and webhook signatures. The
TriggerActor (actors/triggers.py) runs schedules and startup fires, the AMQP consumers run in
their own actors, and webhooks are routes of the API.
"""

from hub.triggers._fire import (
    SIGNATURE_HEADER,
    Fire,
    TriggerInputError,
    WebhookRejected,
    idempotency_key,
    make_fire,
    map_inputs,
    signature,
    signature_valid,
)
from hub.triggers._model import (
    DEFAULT_AMQP_URL,
    MISFIRE_POLICIES,
    TRIGGER_MODELS,
    TRIGGER_TYPES,
    AmqpPublish,
    AmqpTrigger,
    ScheduleTrigger,
    StartupTrigger,
    TriggerSpec,
    WebhookTrigger,
    trigger_model,
)
from hub.triggers._schedule import (
    CatchUp,
    catch_up,
    last_slot_at_or_before,
    next_slot,
    slot_id,
    slots_after,
)
from hub.triggers._state import TriggerState, TriggerView

__all__ = [
    "DEFAULT_AMQP_URL",
    "MISFIRE_POLICIES",
    "SIGNATURE_HEADER",
    "TRIGGER_MODELS",
    "TRIGGER_TYPES",
    "AmqpPublish",
    "AmqpTrigger",
    "CatchUp",
    "Fire",
    "ScheduleTrigger",
    "StartupTrigger",
    "TriggerInputError",
    "TriggerSpec",
    "TriggerState",
    "TriggerView",
    "WebhookRejected",
    "WebhookTrigger",
    "catch_up",
    "idempotency_key",
    "last_slot_at_or_before",
    "make_fire",
    "map_inputs",
    "next_slot",
    "signature",
    "signature_valid",
    "slot_id",
    "slots_after",
    "trigger_model",
]
