"""A workflow's ``triggers``: what starts its runs without a person (docs/dsl.md, "Triggers").

Each trigger is validated on its own (so one bad trigger does not hide the diagnostics of the
rest) against the model of its ``type``; cron expressions and time zones are checked here with
the libraries that will run them (cronsim, zoneinfo), so a registered schedule always runs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TRIGGER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TRIGGER_TYPES = ("schedule", "webhook", "amqp", "startup")
# How `hub ls --trigger` and the executions' `trigger` name runs each type starts.
MISFIRE_POLICIES = ("skip", "once", "all")
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
_CREDENTIAL_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Trigger(_Spec):
    id: str
    enabled: bool = True
    description: str | None = None
    # Values may be expressions over what the trigger received ($trigger); absent, a webhook or
    # a message whose body is a JSON object passes that object as the inputs.
    inputs: dict[str, Any] | None = None

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not TRIGGER_ID_RE.match(value):
            raise ValueError(
                f"trigger id {value!r} must match [a-z0-9][a-z0-9_-]{{0,63}} (it is a part of "
                "the webhook's URL and of `hub triggers` commands)"
            )
        return value


class ScheduleTrigger(_Trigger):
    type: Literal["schedule"]
    cron: str | None = None
    every_s: float | None = Field(default=None, ge=1, le=366 * 86400)
    timezone: str = "UTC"
    misfire: Literal["skip", "once", "all"] = "skip"
    misfire_cap: int = Field(default=100, ge=1, le=10_000)

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {value!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Paris')"
            ) from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from datetime import UTC, datetime

        from cronsim import CronSim, CronSimError

        fields = value.split()
        if len(fields) not in (5, 6):
            raise ValueError(
                f"cron {value!r} has {len(fields)} fields; a schedule takes 5 (minute hour day "
                "month weekday) or 6 (seconds first)"
            )
        try:
            CronSim(value, datetime.now(UTC))
        except CronSimError as exc:
            raise ValueError(f"cron {value!r} is not valid: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleTrigger:
        if (self.cron is None) == (self.every_s is None):
            raise ValueError("a schedule needs exactly one of 'cron' or 'every_s'")
        return self


class WebhookTrigger(_Trigger):
    type: Literal["webhook"]
    # The name of a stored credential holding the HMAC-SHA256 secret; without it, only the
    # API token authenticates a call.
    secret: str | None = Field(default=None, pattern=_CREDENTIAL_NAME)
    respond: Literal["accepted", "outputs"] = "accepted"
    timeout_s: float = Field(default=30, gt=0, le=300)


class AmqpPublish(_Spec):
    exchange: str = Field(min_length=1, max_length=255)
    # Default: "<workflow_id>.<status>" (completed, failed, cancelled).
    routing_key: str | None = Field(default=None, max_length=255)


class AmqpTrigger(_Trigger):
    type: Literal["amqp"]
    queue: str = Field(min_length=1, max_length=255)
    url_credential: str | None = Field(default=None, pattern=_CREDENTIAL_NAME)
    prefetch: int = Field(default=50, ge=1, le=10_000)
    # Where an unusable message goes, with the reason in its headers: "<queue>.dead" unless set.
    dead_letter_queue: str | None = Field(default=None, min_length=1, max_length=255)
    publish: AmqpPublish | None = None

    @property
    def dead_letter(self) -> str:
        return self.dead_letter_queue or f"{self.queue}.dead"


class StartupTrigger(_Trigger):
    type: Literal["startup"]


TriggerSpec = Annotated[
    ScheduleTrigger | WebhookTrigger | AmqpTrigger | StartupTrigger, Field(discriminator="type")
]
TRIGGER_MODELS: dict[str, type[_Trigger]] = {
    "schedule": ScheduleTrigger,
    "webhook": WebhookTrigger,
    "amqp": AmqpTrigger,
    "startup": StartupTrigger,
}


def trigger_model(raw: Any) -> type[_Trigger] | None:
    """The model a raw trigger is validated against (None: its type is missing or unknown)."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    return TRIGGER_MODELS.get(kind) if isinstance(kind, str) else None
