"""What a node sees while it runs, and the messages that carry a call to a node actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

LOG_LEVELS = ("debug", "info", "warn", "error")


class LogLine(BaseModel):
    level: str
    message: str
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass
class NodeContext:
    """Identity of the attempt, the taken upstream outputs, and a log sink."""

    execution_id: str
    workflow_id: str
    node_id: str
    attempt: int = 1
    upstream: dict[str, Any] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    # Set when this attempt resumes one that was running when the runtime stopped or crashed:
    # when that attempt started (a ``delay`` sleeps only what is left of its time).
    resumed_from: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable per attempt: execution id, node id and attempt number."""
        return f"{self.execution_id}:{self.node_id}:{self.attempt}"

    def log(self, level: str, message: str, **metadata: Any) -> None:
        self.logs.append(LogLine(level=level, message=message, metadata=metadata))


class NodeCall(BaseModel):
    """One attempt of an action node, sent from the ExecutionActor to a node actor."""

    execution_id: str
    workflow_id: str
    node_id: str
    node_type: str
    attempt: int
    parameters: dict[str, Any]
    enabled_families: list[str] = Field(default_factory=list)


class NodeResult(BaseModel):
    output: Any = None
    logs: list[LogLine] = Field(default_factory=list)
