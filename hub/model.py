"""The workflow document (docs/dsl.md) as pydantic models.

The compiler validates each part of a document separately against these models so that one bad
node does not hide the diagnostics of the rest.
"""

from __future__ import annotations

import random
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.breakers import BreakerSettings
from hub.errors import ErrorCategory

WORKFLOW_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NODE_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Names an expression can reach besides node ids; a node may not take one of them.
RESERVED_NAMES = frozenset({"input", "execution", "env", "credential", "item", "index"})
# How executions share ExecutionActors (docs/dsl.md, "Isolation modes").
Isolation = Literal["exclusive", "shared", "auto"]


class OnError(StrEnum):
    HALT = "halt"
    IGNORE = "ignore"
    BRANCH = "branch"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Spec):
    """Exponential backoff with jitter; only retryable errors are retried."""

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff_s: float = Field(default=1.0, ge=0, le=3600)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    max_backoff_s: float = Field(default=60.0, ge=0, le=86400)
    jitter: bool = True

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        "Equal jitter": half the exponential delay is fixed, the other half random, so retries of
        many executions spread out but never collapse to zero.
        """
        base = min(self.max_backoff_s, self.backoff_s * self.multiplier ** (attempt - 1))
        if not self.jitter:
            return base
        return base / 2 + (rng or random).uniform(0, base / 2)

    def should_retry(self, attempt: int, *, retryable: bool, category: ErrorCategory) -> bool:
        never = {ErrorCategory.VALIDATION, ErrorCategory.EXPRESSION, ErrorCategory.CANCELLED}
        return retryable and category not in never and attempt < self.max_attempts


class InputType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"


class InputSpec(_Spec):
    type: InputType = InputType.STRING
    required: bool = False
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    secret: bool = False

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return value


class WorkflowSettings(_Spec):
    timeout_s: float | None = Field(default=None, gt=0)
    on_error: OnError = OnError.HALT
    max_parallel_steps: int = Field(default=64, ge=1, le=10_000)
    # Off unless the document or the runtime settings turn it on (docs/dsl.md, "Circuit
    # breakers"); what a run uses is the runtime's merged under the document's (hub.overrides).
    circuit_breaker: BreakerSettings | None = None
    # Where the execution runs (docs/dsl.md, "Isolation modes"): an ExecutionActor of its own
    # ("exclusive"), or one shared by many executions as independent tasks ("shared"), or, for
    # a workflow of built-in control nodes only, the supervisor's own process ("auto"; other
    # workflows run exclusive). Unset: the runtime's default_isolation.
    isolation: Isolation | None = None


class NodeSpec(_Spec):
    id: str
    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_s: float | None = Field(default=None, gt=0)
    on_error: OnError | None = None
    disabled: bool = False
    breakpoint: bool = False
    position: list[float] | None = None  # kept for editors; ignored by the runtime

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not NODE_ID_RE.match(value):
            raise ValueError(
                f"node id {value!r} must match [A-Za-z_][A-Za-z0-9_]{{0,63}} "
                "(it is how expressions name the node: $my_node)"
            )
        if value in RESERVED_NAMES:
            raise ValueError(f"node id {value!r} is reserved (it would shadow ${value})")
        return value


class EdgeSpec(_Spec):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    when: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WorkflowDocument(_Spec):
    id: str
    name: str | None = None
    version: str = "1"
    description: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    nodes: list[Any]
    edges: list[Any] = Field(default_factory=list)
    triggers: list[Any] = Field(default_factory=list)  # validated one by one: hub.triggers
    format: Literal["runtime-hub/v1"] | None = None

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not WORKFLOW_ID_RE.match(value):
            raise ValueError(
                f"workflow id {value!r} must match [a-z0-9][a-z0-9_-]{{0,63}} "
                "(lowercase letters, digits, '_' and '-')"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _version_as_string(cls, data: Any) -> Any:
        # "version": 2 is a common slip; versions are strings, so accept and normalise it.
        if isinstance(data, dict) and isinstance(data.get("version"), int | float):
            data = {**data, "version": str(data["version"])}
        return data
