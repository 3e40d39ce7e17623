"""What the runtime keeps about each trigger, and the view ``hub triggers ls`` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TriggerState(BaseModel):
    """Stored per trigger (table ``trigger_states``, as JSON)."""

    # Schedules: the last slot accounted for (fired or skipped by the misfire policy). None
    # while the trigger is not running: it is armed at "now" when it (re)starts, so a trigger
    # that was disabled does not fire the slots of that time.
    cursor: datetime | None = None
    fires: int = 0
    skipped: int = 0
    last_fired_at: datetime | None = None
    last_slot: str | None = None
    last_execution_id: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


class TriggerView(BaseModel):
    """One trigger as ``hub triggers ls`` and ``GET /api/v1/triggers`` show it."""

    workflow_id: str
    trigger_id: str
    type: str
    enabled: bool
    # running: armed (a schedule or a consumer is live); disabled; error: it cannot run (its
    # consumer cannot connect, say: ``last_error`` says why); idle: nothing to run (webhook and
    # startup triggers fire on a call or at the next start).
    state: str
    next_fire_at: datetime | None = None
    last_fired_at: datetime | None = None
    last_execution_id: str | None = None
    fires: int = 0
    skipped: int = 0
    last_error: str | None = None
    breaker: str | None = None  # the workflow's circuit breaker state, when it has one
    detail: dict[str, Any] = Field(default_factory=dict)  # per type: cron, queue, hook path…
