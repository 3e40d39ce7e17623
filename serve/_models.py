"""Request and response bodies of the API (they make the published OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.records import Breakpoint, ErrorInfo
from hub.triggers import TriggerView


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


class DiagnosticOut(BaseModel):
    severity: Literal["error", "warning"]
    code: str
    message: str
    path: str
    suggestion: str | None = None


class CompileReport(BaseModel):
    """What compiling a document says: diagnostics, and for a valid one its plan."""

    valid: bool
    diagnostics: list[DiagnosticOut]
    levels: list[list[str]] | None = None
    input_schema: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None


class WorkflowOut(BaseModel):
    id: str
    version: str
    name: str | None = None
    description: str | None = None
    created_at: str
    definition: dict[str, Any]
    diagnostics: list[DiagnosticOut] = Field(default_factory=list)


class WorkflowSaved(BaseModel):
    workflow: WorkflowOut
    compile: CompileReport


class WorkflowSummary(BaseModel):
    id: str
    version: str
    name: str | None = None
    description: str | None = None
    created_at: str


class WorkflowList(BaseModel):
    items: list[WorkflowSummary]


class VersionList(BaseModel):
    workflow_id: str
    versions: list[str]


class Deleted(BaseModel):
    deleted: int


class SavedInputsIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "ada", "inputs": {"name": "Ada", "age": 36}}]},
    )

    name: str = Field(min_length=1, max_length=255)
    inputs: dict[str, Any] = Field(default_factory=dict)


class SavedInputsOut(BaseModel):
    id: str
    workflow_id: str
    name: str
    inputs: dict[str, Any]
    created_at: str


class SavedInputsList(BaseModel):
    items: list[SavedInputsOut]


class RunOptionsIn(_Body):
    version: str | None = Field(default=None, max_length=255)
    timeout_s: float | None = Field(default=None, gt=0, le=31_536_000)
    debug: bool = False
    breakpoints: list[str | Breakpoint] = Field(default_factory=list, max_length=1000)
    saved_inputs_id: str | None = Field(
        default=None, max_length=64, description="Start from these saved inputs; `inputs` win."
    )
    trigger: str = Field(default="api", min_length=1, max_length=64)


class RunRequest(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"inputs": {"name": "Ada", "age": 36}, "options": {"timeout_s": 60}}]
        },
    )

    inputs: dict[str, Any] = Field(default_factory=dict)
    options: RunOptionsIn = Field(default_factory=RunOptionsIn)


class RunAccepted(BaseModel):
    execution_id: str
    status: str
    links: dict[str, str]


class ExecutionPageOut(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class BulkDeleteIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": ["0123456789abcdef0123456789abcdef"]}]},
    )

    ids: list[str] = Field(min_length=1, max_length=1000)


class RetryIn(_Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"inputs": {"name": "Bo"}}]}
    )

    inputs: dict[str, Any] | None = None


class RetryStepIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"node_id": "greeting", "parameters": {"values": {"text": "Hi"}}}]
        },
    )

    node_id: str | None = Field(default=None, max_length=255)
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] | None = None


class SkipStepIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"node_id": "greeting", "output": {"text": "Hi", "adult": True}}]
        },
    )

    node_id: str | None = Field(default=None, max_length=255)
    output: Any = None
    inputs: dict[str, Any] | None = None


class BreakpointsIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "breakpoints": [
                        "is_adult",
                        {"node_id": "welcome", "condition": "$greeting.adult"},
                    ]
                }
            ]
        },
    )

    breakpoints: list[str | Breakpoint] = Field(default_factory=list, max_length=1000)


class EvaluateIn(_Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expression": "$greeting.text"}]}
    )

    expression: str = Field(min_length=1, max_length=10_000)


class EvaluateOut(BaseModel):
    expression: str
    value: Any = None


class CancelIn(_Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "no longer needed"}]}
    )

    reason: str = Field(default="cancelled by user", max_length=1000)


# --- triggers and webhooks (serve/routes/triggers.py, serve/routes/hooks.py) -----------------


class TriggerList(BaseModel):
    items: list[TriggerView]


class TriggerRun(BaseModel):
    """An execution a trigger started (a webhook call, a manual fire); ``Location`` names it."""

    execution_id: str
    status: str
    workflow_id: str
    trigger_id: str


class WebhookOutputs(TriggerRun):
    """A ``respond: outputs`` webhook's answer: the ended execution's outputs, and its error
    when it failed (``status`` says which end)."""

    outputs: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
