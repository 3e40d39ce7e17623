"""What a node sees while it runs, and the messages that carry a call to a node actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

LOG_LEVELS = ("debug", "info", "warn", "error")
MAX_OUTPUT_LINES = 1000  # lines of a program's output logged per attempt (NodeContext.log_text)
MAX_LINE_CHARS = 4000


class LogLine(BaseModel):
    level: str
    message: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Where it came from: "node" (ctx.log), "stdout"/"stderr" (a code node's print, a shell
    # node's stderr lines).
    source: str = "node"


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
    # What the runtime offers inline nodes beyond their parameters: starting and waiting for
    # child executions (hub.nodes._workflow.ChildRuns). None outside a runtime.
    runtime: Any = None

    @property
    def idempotency_key(self) -> str:
        """Stable per attempt: execution id, node id and attempt number."""
        return f"{self.execution_id}:{self.node_id}:{self.attempt}"

    def log(self, level: str, message: str, *, source: str = "node", **metadata: Any) -> None:
        self.logs.append(LogLine(level=level, message=message, metadata=metadata, source=source))

    def log_text(self, level: str, text: str, source: str) -> None:
        """Each line of ``text`` (a program's output) as a log line from ``source``; at most
        MAX_OUTPUT_LINES lines of MAX_LINE_CHARS characters, then one line saying how many more
        there were."""
        lines = [line for line in text.splitlines() if line.strip()]
        for line in lines[:MAX_OUTPUT_LINES]:
            self.log(level, line[:MAX_LINE_CHARS], source=source)
        if len(lines) > MAX_OUTPUT_LINES:
            dropped = len(lines) - MAX_OUTPUT_LINES
            self.log(level, f"[{dropped} more lines of {source} not logged]", source=source)


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
    # A failed attempt that logged: its error (hub.records.ErrorInfo as a dict), so the logs
    # still reach the execution's log stream. A failure without logs comes as ErrorInfo.
    error: dict[str, Any] | None = None
