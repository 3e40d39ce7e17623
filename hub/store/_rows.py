"""Conversions between records (hub.records) and table rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import RowMapping

from hub.records import (
    AuditEntry,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    LogEntry,
    StepRecord,
    StepStatus,
    WorkflowRecord,
)


def _error_json(error: ErrorInfo | None) -> dict[str, Any] | None:
    return None if error is None else error.model_dump(mode="json")


def _error(value: Mapping[str, Any] | None) -> ErrorInfo | None:
    return None if value is None else ErrorInfo.model_validate(value)


# --- workflows ----------------------------------------------------------------------------------


def workflow_row(record: WorkflowRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "version": record.version,
        "name": record.name,
        "description": record.description,
        "definition": record.definition,
        "diagnostics": record.diagnostics,
        "created_at": record.created_at,
    }


def workflow_record(row: RowMapping) -> WorkflowRecord:
    return WorkflowRecord(
        id=row["id"],
        version=row["version"],
        name=row["name"],
        description=row["description"],
        definition=row["definition"],
        diagnostics=row["diagnostics"] or [],
        created_at=row["created_at"],
    )


# --- executions ---------------------------------------------------------------------------------


# The columns of a new execution's row, as execution_row gives them.
EXECUTION_COLUMNS = (
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "trigger",
    "inputs",
    "outputs",
    "settings",
    "error",
    "idempotency_key",
    "created_at",
    "started_at",
    "ended_at",
    "parent_id",
    "trigger_info",
)


def execution_row(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "workflow_id": record.workflow_id,
        "workflow_version": record.workflow_version,
        "status": record.status.value,
        "trigger": record.trigger,
        "inputs": record.inputs,
        "outputs": record.outputs,
        "settings": record.settings,
        "error": _error_json(record.error),
        "idempotency_key": record.idempotency_key,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "parent_id": record.parent_id,
        "trigger_info": record.trigger_info,
    }


def execution_record(row: RowMapping, steps: list[StepRecord] | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        id=row["id"],
        workflow_id=row["workflow_id"],
        workflow_version=row["workflow_version"],
        status=ExecutionStatus(row["status"]),
        trigger=row["trigger"],
        inputs=row["inputs"] or {},
        outputs=row["outputs"] or {},
        steps=steps or [],
        error=_error(row["error"]),
        settings=row["settings"] or {},
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        parent_id=row["parent_id"],
        trigger_info=row["trigger_info"],
    )


# --- steps --------------------------------------------------------------------------------------


def step_row(execution_id: str, step: StepRecord) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status.value,
        "attempts": step.attempts,
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "input": step.input,
        "output": step.output,
        "error": _error_json(step.error),
        "category": step.error.category if step.error is not None else None,
    }


def step_record(row: RowMapping) -> StepRecord:
    return StepRecord(
        node_id=row["node_id"],
        node_type=row["node_type"],
        status=StepStatus(row["status"]),
        attempts=row["attempts"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        input=row["input"],
        output=row["output"],
        error=_error(row["error"]),
    )


def ordered_steps(steps: Iterable[StepRecord]) -> list[StepRecord]:
    """Steps by start time, then node id; steps that never started (pending...) last."""

    def key(step: StepRecord) -> tuple[bool, bool, float, str]:
        started = step.started_at
        return (
            step.status is StepStatus.PENDING,
            started is None,
            started.timestamp() if started is not None else 0.0,
            step.node_id,
        )

    return sorted(steps, key=key)


# --- events and logs ----------------------------------------------------------------------------


def event_row(event: Event) -> dict[str, Any]:
    return {
        "execution_id": event.execution_id,
        "seq": event.seq,
        "type": event.type,
        "node_id": event.node_id,
        "ts": event.ts,
        "data": event.data,
    }


def event_record(row: RowMapping) -> Event:
    return Event(
        execution_id=row["execution_id"],
        seq=row["seq"],
        type=row["type"],
        node_id=row["node_id"],
        ts=row["ts"],
        data=row["data"] or {},
    )


def log_row(event: Event) -> dict[str, Any]:
    """The ``execution_logs`` row of a ``log`` event (data: level, message, source, metadata)."""
    data = event.data
    metadata = data.get("metadata")
    node_id = event.node_id if event.node_id is not None else data.get("node_id")
    source = data.get("source")
    return {
        "execution_id": event.execution_id,
        "seq": event.seq,
        "ts": event.ts,
        "level": str(data.get("level") or "info").lower(),
        "node_id": None if node_id is None else str(node_id),
        "source": str(source) if source else ("node" if node_id is not None else "engine"),
        "message": str(data.get("message", "")),
        "metadata": metadata if isinstance(metadata, dict) else {},
    }


def log_record(row: RowMapping) -> LogEntry:
    return LogEntry(
        execution_id=row["execution_id"],
        seq=row["seq"],
        ts=row["ts"],
        level=row["level"],
        node_id=row["node_id"],
        source=row["source"],
        message=row["message"],
        metadata=row["metadata"] or {},
    )


# --- audit log ----------------------------------------------------------------------------------


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    """The row of a new entry; the database numbers it (``entry.id`` is ignored)."""
    return {
        "ts": entry.ts,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
    }


def audit_record(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        ts=row["ts"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=row["details"] or {},
    )
