"""Records that cross process boundaries: what the store keeps and what clients read back.

Every message between actors, the store and clients is one of these pydantic models; no bare
dicts cross a process. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import Severity, severity_of
from hub.isolation import isolation_of, runs_in_supervisor


def utcnow() -> datetime:
    return datetime.now(UTC)


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_EXECUTION


_TERMINAL_EXECUTION = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid")


class Breakpoint(_Record):
    """Pause a debug run before ``node_id`` starts (when ``condition``, an expression, holds)."""

    node_id: str
    condition: str | None = None


class RunOptions(_Record):
    """How one execution runs; stored with it (``settings["options"]``) so recovery keeps it."""

    debug: bool = False
    breakpoints: list[Breakpoint] = Field(default_factory=list)
    timeout_s: float | None = Field(default=None, gt=0)
    log_level: Literal["debug", "info", "warn", "error"] | None = None  # lowest one recorded


class ErrorInfo(_Record):
    """A failure as users see it: what went wrong, why (category) and where."""

    message: str
    category: str
    attempts: int = 1
    retryable: bool = False
    node_id: str | None = None
    severity: Severity = Severity.MEDIUM  # always the category's (hub.errors.SEVERITY)

    @model_validator(mode="before")
    @classmethod
    def _severity_from_category(cls, data: Any) -> Any:
        # Derived, never taken from callers: errors stored before severity existed load with
        # it, and a stored one follows the table should the table change.
        if isinstance(data, dict) and "category" in data:
            data = {**data, "severity": severity_of(str(data["category"]))}
        return data


class StepRecord(_Record):
    node_id: str
    node_type: str
    status: StepStatus
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds() * 1000)


class ExecutionRecord(_Record):
    id: str
    workflow_id: str
    workflow_version: str
    status: ExecutionStatus
    trigger: str = "api"
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepRecord] = Field(default_factory=list)
    error: ErrorInfo | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parent_id: str | None = None
    # The trigger that started it (``trigger`` is its type): id, slot, message id, caller's key.
    trigger_info: dict[str, Any] | None = None


class WorkflowRecord(_Record):
    id: str
    version: str
    name: str | None = None
    description: str | None = None
    definition: dict[str, Any]
    diagnostics: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)


class Event(_Record):
    """One state change of an execution. ``seq`` is assigned by the Recorder (0 = not yet)."""

    execution_id: str
    type: str
    seq: int = 0
    ts: datetime = Field(default_factory=utcnow)
    node_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


EVENT_OUTPUT_LIMIT = 4096
"""The most characters of JSON a ``step_completed`` event carries of the step's output."""


def output_preview(value: Any) -> dict[str, Any]:
    """What a ``step_completed`` event says of an output: ``output`` itself when its JSON is at
    most EVENT_OUTPUT_LIMIT characters; otherwise ``output_preview`` (the start of that JSON),
    ``output_size`` (its full length) and ``output_truncated: true``. The full output is in the
    step record."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    if len(text) <= EVENT_OUTPUT_LIMIT:
        return {"output": value}
    return {
        "output_preview": text[:EVENT_OUTPUT_LIMIT],
        "output_size": len(text),
        "output_truncated": True,
    }


def step_event_data(step: StepRecord, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a step event (``step_completed``, ``step_failed``, ``step_cancelled``…) says of its
    step: status, attempts, duration, error, and a completed step's output (output_preview)."""
    data: dict[str, Any] = {"status": step.status.value, "attempts": step.attempts, **(extra or {})}
    if step.duration_ms is not None:
        data["duration_ms"] = step.duration_ms
    if step.error is not None:
        data["error"] = step.error.model_dump()
    if step.status == StepStatus.COMPLETED and step.output is not None:
        data.update(output_preview(step.output))
    return data


class NextStep(_Record):
    """A node that would start next, as a debugger shows it."""

    node_id: str
    node_type: str
    upstream: list[str] = Field(default_factory=list)
    parameters: Any = None  # resolved parameters, or the error resolving them gave
    breakpoint: bool = False


class DebugView(_Record):
    """An execution as the debugger sees it: where it holds, what it has, what runs next."""

    execution_id: str
    status: ExecutionStatus
    hold_reason: str | None = None  # start, pause, breakpoint, step
    hold_node: str | None = None
    detail: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    next: list[NextStep] = Field(default_factory=list)
    running: list[str] = Field(default_factory=list)
    finished: list[str] = Field(default_factory=list)
    breakpoints: list[Breakpoint] = Field(default_factory=list)


class LogEntry(_Record):
    execution_id: str
    seq: int
    ts: datetime
    level: str
    node_id: str | None
    source: str
    message: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunOrder(_Record):
    """What the supervisor hands an ExecutionActor: one execution to run or to resume."""

    definition: dict[str, Any]
    # The definition's digest (hub.overrides.definition_digest), when the sender knows it.
    definition_digest: str | None = None
    record: ExecutionRecord  # inputs are the validated values, not the redacted ones
    families: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    options: RunOptions = Field(default_factory=RunOptions)
    # Why the state comes from the store: None for a fresh start; "retry" for an execution
    # seeded with the steps of the one it retries; otherwise the recovery that resumes it.
    resume: str | None = None
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)  # node id -> parameters
    commit_each_step: bool = True
    park_delay_s: float | None = None  # hub.settings.RuntimeSettings.park_delay_s
    # Parameters a node of a type gets unless it sets them: {type: {name: value}}
    # (hub.settings.RuntimeSettings.node_defaults: the AI settings for llm nodes).
    node_defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def shared(self) -> bool:
        """Whether it runs in the ``shared`` isolation mode (its definition's effective
        ``settings.isolation``; docs/dsl.md, "Isolation modes")."""
        return isolation_of(self.definition) == "shared"

    @property
    def in_supervisor(self) -> bool:
        """Whether the supervisor runs it in its own process (the ``auto`` isolation mode and
        a workflow of built-in control nodes only)."""
        return runs_in_supervisor(self.definition)


class Parked(_Record):
    """An execution that released its ExecutionActor in a long ``delay``: the runtime resumes
    it at ``due``. ``step`` is the delay's step as stored (running)."""

    node_id: str
    due: datetime
    step: StepRecord


class Retention(_Record):
    """How much history the Recorder keeps (hub.settings: retention_*)."""

    max_age_s: float | None = None
    max_executions: int | None = None
    interval_s: float = 3600.0

    @property
    def active(self) -> bool:
        return self.max_age_s is not None or self.max_executions is not None


# --- Writes: what the Recorder applies to the store, batched into one transaction. -------------


class CreateExecution(_Record):
    kind: Literal["create_execution"] = "create_execution"
    record: ExecutionRecord


class UpdateExecution(_Record):
    kind: Literal["update_execution"] = "update_execution"
    execution_id: str
    status: ExecutionStatus | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: ErrorInfo | None = None
    outputs: dict[str, Any] | None = None


class UpsertStep(_Record):
    kind: Literal["upsert_step"] = "upsert_step"
    execution_id: str
    step: StepRecord


class AppendEvent(_Record):
    """An event; a ``log`` event (data: level, message, source, metadata) also lands in
    ``execution_logs``."""

    kind: Literal["append_event"] = "append_event"
    event: Event


# --- Audit: who did what, recorded by the Recorder like any other write. ----------------------


class AuditEntry(_Record):
    """One action a user (or the runtime) took: who (``actor``), what (``action``), on what.

    ``id`` is assigned by the store (0 = not stored yet); newer entries have larger ids.
    """

    id: int = 0
    ts: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    target: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AppendAudit(_Record):
    kind: Literal["append_audit"] = "append_audit"
    entry: AuditEntry


StoreWrite = Annotated[
    CreateExecution | UpdateExecution | UpsertStep | AppendEvent | AppendAudit,
    Field(discriminator="kind"),
]


class RunOutcome(_Record):
    """What an ExecutionActor answers the supervisor: the execution as it ended, and its last
    writes (the terminal update and event), which the supervisor commits, batched with other
    runs' writes, before it reports the end to anyone."""

    record: ExecutionRecord
    writes: list[StoreWrite] = Field(default_factory=list)
    parked: Parked | None = None  # not ended: sleeping in a delay until parked.due
