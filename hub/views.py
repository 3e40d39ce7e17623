"""How records look to the outside (CLI ``--json``, later the HTTP API), and how command-line
inputs are read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.errors import HubError
from hub.records import ExecutionRecord, StepRecord


class UsageError(HubError):
    code = "usage"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def step_json(step: StepRecord) -> dict[str, Any]:
    return {
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status.value,
        "attempts": step.attempts,
        "started_at": _iso(step.started_at),
        "ended_at": _iso(step.ended_at),
        "duration_ms": step.duration_ms,
        "output": step.output,
        "error": (
            {
                "message": step.error.message,
                "category": step.error.category,
                "severity": step.error.severity.value,
            }
            if step.error
            else None
        ),
    }


def execution_json(record: ExecutionRecord) -> dict[str, Any]:
    """The execution record contract of ``hub run --json`` / ``hub show --json``."""
    return {
        "id": record.id,
        "workflow_id": record.workflow_id,
        "workflow_version": record.workflow_version,
        "status": record.status.value,
        "trigger": record.trigger,
        "trigger_info": record.trigger_info,
        "inputs": record.inputs,
        "outputs": record.outputs,
        "steps": [step_json(s) for s in record.steps],
        "error": _error_json(record),
        "parent_id": record.parent_id,
        "origin": record.settings.get("origin"),
        "settings": settings_json(record),
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
    }


def detail_json(record: ExecutionRecord, children: Sequence[ExecutionRecord]) -> dict[str, Any]:
    """``hub show --json`` and GET /executions/{id}: the record, and the executions it started
    (sub-workflows) or that were derived from it (retries, re-runs), oldest first."""
    return execution_json(record) | {
        "children": [
            {
                "id": c.id,
                "workflow_id": c.workflow_id,
                "status": c.status.value,
                "origin": (c.settings.get("origin") or {}).get("kind", "retry"),
            }
            for c in sorted(children, key=lambda c: c.created_at)
        ]
    }


def settings_json(record: ExecutionRecord) -> dict[str, Any]:
    """What a run used: its effective workflow settings, run options, node families enabled,
    parameter overrides. Never its sealed secret inputs (ciphertext is nobody's business)."""
    from hub.sealing import SETTING

    return {k: v for k, v in record.settings.items() if k not in (SETTING, "origin")}


def _error_json(record: ExecutionRecord) -> dict[str, Any] | None:
    """The error with the recovery suggestions for its category (hub.analysis)."""
    from hub.analysis import suggestions

    if record.error is None:
        return None
    return {**record.error.model_dump(), "suggestions": suggestions(record.error.category)}


def parse_inputs(pairs: list[str], inputs_json: str | None) -> dict[str, Any]:
    """``--inputs JSON`` first, then each ``-i KEY=VALUE`` (VALUE as JSON when it parses)."""
    inputs: dict[str, Any] = {}
    if inputs_json:
        try:
            loaded = json.loads(inputs_json)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--inputs is not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if not isinstance(loaded, dict):
            raise UsageError('--inputs must be a JSON object such as \'{"name": "Ada"}\'')
        inputs.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-i expects KEY=VALUE, got {pair!r}")
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[key] = raw
    return inputs
