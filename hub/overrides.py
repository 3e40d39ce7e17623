"""Runtime defaults and per-workflow overrides applied to a workflow before it runs.

Precedence, most specific first: the per-workflow override (settings store), the document's
own value, the runtime default. The result is a snapshot stored with the execution
(``settings["effective"]``), so a resumed or recovered run keeps the settings it started with.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from hub.breakers import effective_breaker
from hub.settings import LogLevel, RuntimeSettings, WorkflowOverrides


class EffectiveSettings(BaseModel):
    """What a run used: the workflow settings after overrides, and the node defaults."""

    model_config = ConfigDict(extra="forbid")

    workflow: dict[str, Any]  # the document's "settings" block, as it ran
    default_max_attempts: int = 1
    log_level: LogLevel = "debug"


def effective_settings(
    definition: dict[str, Any], runtime: RuntimeSettings, overrides: WorkflowOverrides | None
) -> EffectiveSettings:
    overrides = overrides or WorkflowOverrides()
    raw = definition.get("settings")
    workflow = dict(raw) if isinstance(raw, dict) else {}
    if overrides.timeout_s is not None:
        workflow["timeout_s"] = overrides.timeout_s
    elif workflow.get("timeout_s") is None and runtime.default_timeout_s is not None:
        workflow["timeout_s"] = runtime.default_timeout_s
    if overrides.on_error is not None:
        workflow["on_error"] = overrides.on_error
    elif "on_error" not in workflow and not runtime.fail_fast:
        workflow["on_error"] = "ignore"
    if overrides.max_parallel_steps is not None:
        workflow["max_parallel_steps"] = overrides.max_parallel_steps
    # Written only when it is not the document's own: a run's definition is unchanged when
    # nothing was asked, and an unset isolation is exclusive (hub.records.RunOrder.shared).
    isolation = overrides.isolation or workflow.get("isolation") or runtime.default_isolation
    if isolation == "auto" and not runtime.supervisor_runs:  # the gate is closed
        isolation = "exclusive"
    if isolation != workflow.get("isolation", "exclusive"):
        workflow["isolation"] = isolation
    breaker = effective_breaker(runtime.circuit_breaker, workflow.get("circuit_breaker"))
    if breaker is not None:
        workflow["circuit_breaker"] = breaker
    return EffectiveSettings(
        workflow=workflow,
        default_max_attempts=overrides.max_attempts or runtime.default_max_attempts,
        log_level=overrides.log_level or runtime.log_level,
    )


def apply_settings(definition: dict[str, Any], effective: EffectiveSettings) -> dict[str, Any]:
    """The definition a run executes: ``effective`` written into a copy of ``definition``."""
    doc = copy.deepcopy(definition)
    if effective.workflow:
        doc["settings"] = dict(effective.workflow)
    if effective.default_max_attempts > 1:
        for node in doc.get("nodes", []):
            if isinstance(node, dict) and "retry" not in node:
                node["retry"] = {"max_attempts": effective.default_max_attempts}
    return doc


def definition_digest(definition: dict[str, Any]) -> str:
    """What tells two definitions of one workflow version apart (their settings differ): the
    key of an ExecutionHost's plan cache."""
    return hashlib.sha1(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


__all__ = ["EffectiveSettings", "apply_settings", "definition_digest", "effective_settings"]
