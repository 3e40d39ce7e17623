"""Execution history as users query it: searches, pages, statistics, performance, advice.

Pure models and functions (no SQL): the store (:mod:`hub.store`) fills them in, the HTTP API and
the CLI show them. Cursors are opaque to clients and bound to the sort they were made for.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.errors import InvalidRequest
from hub.records import AuditEntry, ExecutionRecord, ExecutionStatus, utcnow

__all__ = [
    # Searching executions
    "ExecutionQuery",
    "ExecutionPage",
    "ExecutionSort",
    "encode_cursor",
    "decode_cursor",
    "SortValue",
    # Statistics and performance
    "ExecutionStats",
    "NodeTypePerformance",
    "WorkflowPerformance",
    "SlowStep",
    "PerformanceReport",
    "percentile",
    "success_rate",
    "recommendations",
    # Catalog: saved inputs, audit, credentials, deletions
    "SavedInputs",
    "AuditEntry",
    "CredentialInfo",
    "DeleteResult",
]

ExecutionSort = Literal[
    "created_at", "-created_at", "ended_at", "-ended_at", "duration_ms", "-duration_ms"
]
SortValue = datetime | int | None
"""The value of an execution's sort key: a timestamp, a duration in ms, or None (none yet)."""

# Advice thresholds (recommendations()).
FAILURE_RATE_ADVICE = 0.20
SPREAD_ADVICE = 10.0
SPREAD_MIN_P95_MS = 1000.0  # below a second, a wide spread is not worth a timeout
SUCCESS_RATE_ADVICE = 0.90


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_utc(value: datetime | None) -> datetime | None:
    """Naive timestamps are taken to be UTC (as the store does); aware ones converted to UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- searching executions -----------------------------------------------------------------------


class ExecutionQuery(_Model):
    """Which executions to list (all filters combine with AND), in what order, how many."""

    status: list[ExecutionStatus] = Field(default_factory=list)
    workflow_id: str | None = None
    trigger: str | None = None
    parent_id: str | None = None
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    # Case-insensitive substring of the execution's error message or one of its steps' messages.
    error_text: str | None = None
    # Executions without the sort value (not ended, never started) come last in both directions.
    sort: ExecutionSort = "-created_at"
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = None  # opaque, from ExecutionPage.next_cursor

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    @field_validator("error_text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return value if value else None

    @property
    def sort_field(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


class ExecutionPage(_Model):
    """One page of executions (without steps); ``next_cursor`` is None on the last page."""

    items: list[ExecutionRecord]
    next_cursor: str | None = None


def encode_cursor(sort: ExecutionSort, value: SortValue, id: str) -> str:
    """An opaque cursor for the position after the execution ``id`` whose sort key is ``value``."""
    key: Any = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"s": sort, "k": key, "id": id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: ExecutionSort) -> tuple[SortValue, str]:
    """The (sort value, id) a cursor made by :func:`encode_cursor` for ``sort`` stands for.

    Raises InvalidRequest for anything else: garbage, or a cursor made for another sort.
    """
    invalid = InvalidRequest(
        f"cursor {cursor[:40]!r} is not valid for this query; start again without it",
        details={"cursor": cursor, "sort": sort},
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("s") != sort or not isinstance(data.get("id"), str):
        raise invalid
    key = data.get("k")
    field = sort.lstrip("-")
    if key is None and field != "created_at":
        return None, data["id"]
    if field == "duration_ms":
        if isinstance(key, int) and not isinstance(key, bool):
            return key, data["id"]
        raise invalid
    if not isinstance(key, str):
        raise invalid
    try:
        ts = datetime.fromisoformat(key)
    except ValueError:
        raise invalid from None
    if ts.tzinfo is None:
        raise invalid
    return ts.astimezone(UTC), data["id"]


# --- statistics ---------------------------------------------------------------------------------


class ExecutionStats(_Model):
    """How executions matching a query fared.

    ``success_rate``: completed / (completed + failed + cancelled), None without finished ones.
    Percentiles: ``ended_at - started_at`` of finished executions that have both (the newest
    100,000 of them), in ms.
    """

    total: int
    by_status: dict[str, int]  # every ExecutionStatus value, 0 when none
    success_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None


class NodeTypePerformance(_Model):
    """Steps of one node type that ran to an end (completed or failed)."""

    node_type: str
    count: int
    success_rate: float | None = None  # completed / count
    p50_ms: float | None = None
    p95_ms: float | None = None
    failures: int = 0


class WorkflowPerformance(_Model):
    workflow_id: str
    count: int  # executions created in the window, any status
    success_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    # Executions created per minute over first-created..last-created (or since..now when the
    # report has a ``since``); ``count`` itself when that window is empty.
    throughput_per_min: float = 0.0


class SlowStep(_Model):
    execution_id: str
    workflow_id: str
    node_id: str
    node_type: str
    duration_ms: int


class PerformanceReport(_Model):
    workflows: list[WorkflowPerformance]
    node_types: list[NodeTypePerformance]
    slowest_steps: list[SlowStep]  # the 10 longest steps, longest first
    recommendations: list[str]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def success_rate(completed: int, unsuccessful: int) -> float | None:
    """completed / (completed + unsuccessful), None when both are 0."""
    finished = completed + unsuccessful
    return None if finished == 0 else completed / finished


def throughput_per_min(count: int, first: datetime | None, last: datetime | None) -> float:
    """``count`` per minute over first..last; ``count`` when that window is empty."""
    if first is None or last is None:
        return float(count)
    minutes = (last - first).total_seconds() / 60
    return float(count) if minutes <= 0 else count / minutes


def _ms(value: float | None) -> str:
    if value is None:
        return "?"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms"


def recommendations(
    workflows: Sequence[WorkflowPerformance],
    node_types: Sequence[NodeTypePerformance],
    slowest_steps: Sequence[SlowStep] = (),
) -> list[str]:
    """Readable advice from a performance report's parts; the same input gives the same advice.

    Workflows that succeed in under 90% of their finished runs first (worst first), then node
    types whose steps fail 20% of the time or more (worst first), then node types whose p95
    step time is over 10x their p50 and at least a second (widest spread first).
    """
    advice: list[str] = []
    rated = [(w.success_rate, w) for w in workflows if w.success_rate is not None]
    failing = sorted(
        ((r, w) for r, w in rated if r < SUCCESS_RATE_ADVICE),
        key=lambda p: (p[0], p[1].workflow_id),
    )
    for _, w in failing:
        advice.append(
            f"Workflow {w.workflow_id} succeeds in only {w.success_rate:.0%} of its finished "
            f"runs: run `hub errors --workflow {w.workflow_id}` to see its recurring error "
            "patterns and fix the most frequent one first."
        )
    flaky = [n for n in node_types if n.count and n.failures / n.count >= FAILURE_RATE_ADVICE]
    for n in sorted(flaky, key=lambda n: (-n.failures / n.count, n.node_type)):
        advice.append(
            f"{n.node_type} steps fail {n.failures / n.count:.0%} of the time ({n.failures} of "
            f"{n.count}): give these nodes a retry policy for transient errors, or an on_error "
            "branch that handles the failure."
        )
    spread = [
        n
        for n in node_types
        if n.p50_ms is not None
        and n.p95_ms is not None
        and n.p95_ms > SPREAD_ADVICE * n.p50_ms
        and n.p95_ms >= SPREAD_MIN_P95_MS
    ]
    for n in sorted(spread, key=lambda n: (-_ratio(n), n.node_type)):
        slow = [s for s in slowest_steps if s.node_type == n.node_type][:3]
        where = ", ".join(f"{s.node_id} in execution {s.execution_id}" for s in slow)
        example = f" (slowest: {where})" if where else ""
        advice.append(
            f"{n.node_type} step times vary widely (p50 {_ms(n.p50_ms)}, p95 {_ms(n.p95_ms)}): "
            f"look at the slowest steps{example} and set timeout_s on these nodes so a stuck "
            "call fails fast."
        )
    return advice


def _ratio(n: NodeTypePerformance) -> float:
    assert n.p50_ms is not None and n.p95_ms is not None
    return math.inf if n.p50_ms == 0 else n.p95_ms / n.p50_ms


# --- catalog: saved inputs, credentials, deletions ----------------------------------------------


class SavedInputs(_Model):
    """A named set of run inputs for a workflow (a preset to run it again with)."""

    id: str = Field(min_length=1, max_length=64)
    workflow_id: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    inputs: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CredentialInfo(_Model):
    """What anyone may know of a stored credential: its name and when it was set. Never the
    value."""

    name: str
    created_at: datetime
    updated_at: datetime


class DeleteResult(_Model):
    """What a deletion of executions did, id by id (each list in the order asked)."""

    deleted: list[str] = Field(default_factory=list)
    unfinished: list[str] = Field(default_factory=list)  # queued, running or paused: kept
    not_found: list[str] = Field(default_factory=list)
