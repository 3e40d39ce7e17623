"""Retrying and re-running finished executions. Pure: builds the new execution, the supervisor
stores and starts it.

A finished execution never changes (its status is final); every recovery action makes a new
execution whose ``parent_id`` names the one it came from and whose ``settings["origin"]`` says
how:

- ``retry``: run again from the failed step; completed steps are reused (copied, not re-run) and
  the failed step's new attempts are numbered after its old ones;
- ``retry_step``: the same, with some parameters of the failed step replaced;
- ``skip_step``: the failed step is recorded as completed with a substitute output, and the run
  goes on from there;
- ``rerun``: a fresh execution with the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hub import lifecycle
from hub.compiler import compile_workflow
from hub.errors import HubError, InputsInvalid
from hub.local import new_execution
from hub.plan import ExecutionPlan
from hub.records import ExecutionRecord, StepRecord
from hub.redaction import REDACTED
from hub.restore import reusable_steps

RetryKind = Literal["retry", "retry_step", "skip_step", "rerun"]

_ACTIONS = {
    "retry": lifecycle.Action.RETRY,
    "retry_step": lifecycle.Action.RETRY_STEP,
    "skip_step": lifecycle.Action.SKIP_STEP,
    "rerun": lifecycle.Action.RERUN,
}


@dataclass
class Derived:
    """A new execution (queued, inputs redacted, reused steps embedded) and what it runs with."""

    record: ExecutionRecord
    inputs: dict[str, Any]  # validated, secrets in clear
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def seeded(self) -> bool:
        return bool(self.record.steps)


def derive(
    parent: ExecutionRecord,
    plan: ExecutionPlan,
    definition: dict[str, Any],
    kind: RetryKind,
    *,
    node_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    output: Any = None,
    inputs: dict[str, Any] | None = None,
    trigger: str = "api",
) -> Derived:
    """The execution that retries, skips a step of, or re-runs ``parent``."""
    lifecycle.check(_ACTIONS[kind], parent.status, parent.id)
    merged = _inputs(parent, plan, inputs)
    overrides: dict[str, dict[str, Any]] = {}
    steps: list[StepRecord] = []
    origin: dict[str, Any] = {"kind": kind, "execution_id": parent.id}
    if kind != "rerun":
        target = _failed_node(parent, plan, node_id, required=kind != "retry")
        if target is not None:
            origin["node_id"] = target
        substitute = None
        if kind == "skip_step":
            assert target is not None
            _check_substitute(plan, target, output)
            substitute = {target: output}
            origin["output"] = output
        if kind == "retry_step" and parameters:
            assert target is not None
            overrides[target] = _override(plan, definition, target, parameters)
            origin["parameters"] = parameters
        # A step retried with new parameters runs a foreach's items again, every one of them.
        steps = reusable_steps(
            plan, parent.steps, rerun=target, substitute=substitute, keep_items=not overrides
        )
        redo = [st for st in steps if st.status == "pending"]
        origin["attempts_before"] = {st.node_id: st.attempts for st in redo}
    record, validated = new_execution(plan, merged, trigger=trigger)
    record.steps, record.parent_id = steps, parent.id
    record.settings = _settings(parent, origin)
    return Derived(record, validated, overrides)


def _settings(parent: ExecutionRecord, origin: dict[str, Any]) -> dict[str, Any]:
    """The parent's settings for the new execution. A debug run's breakpoints are not carried
    over (a retry runs through); its execution timeout and log level are."""
    settings = {
        k: v for k, v in parent.settings.items() if k not in ("origin", "overrides", "options")
    }
    kept = {
        k: v
        for k, v in parent.settings.get("options", {}).items()
        if k in ("timeout_s", "log_level") and v is not None
    }
    if kept:
        settings["options"] = kept
    settings["origin"] = origin
    return settings


def _inputs(
    parent: ExecutionRecord, plan: ExecutionPlan, given: dict[str, Any] | None
) -> dict[str, Any]:
    """The parent's inputs, with ``given`` on top (validated by new_execution); a secret that
    was not kept (still ``***``) must be given again."""
    merged = {**parent.inputs, **(given or {})}
    missing = [
        k
        for k, spec in plan.inputs.items()
        if spec.secret and parent.inputs.get(k) == REDACTED and k not in (given or {})
    ]
    if missing:
        raise InputsInvalid(
            f"secret input {', '.join(repr(k) for k in missing)} of execution {parent.id} was "
            "never stored; pass it again with the inputs",
            errors=[
                {"path": f"/{k}", "message": "secret input must be given again"} for k in missing
            ],
        )
    return merged


def _failed_node(
    parent: ExecutionRecord, plan: ExecutionPlan, node_id: str | None, *, required: bool
) -> str | None:
    failed = [s.node_id for s in parent.steps if s.status in ("failed", "cancelled")]
    if node_id is None:
        node_id = parent.error.node_id if parent.error and parent.error.node_id else None
        if node_id is None and failed:
            node_id = failed[0]
    if node_id is None:
        if required:
            raise HubError(
                f"execution {parent.id} has no failed step; name the step to retry or skip"
            )
        return None
    if node_id not in plan.nodes:
        raise HubError(f"execution {parent.id} has no step {node_id!r}")
    if required and node_id not in failed:
        status = next((s.status.value for s in parent.steps if s.node_id == node_id), "not run")
        raise HubError(
            f"step {node_id!r} of execution {parent.id} did not fail (it is {status}); only a "
            "failed or cancelled step can be retried or skipped"
        )
    return node_id


def _check_substitute(plan: ExecutionPlan, node_id: str, output: Any) -> None:
    """A substitute must be a JSON value, and for a node that picks a port (condition,
    switch) one it can pick a port from."""
    import json

    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise HubError(f"the substitute output for step {node_id!r} is not JSON: {exc}") from None
    port_of = plan.nodes[node_id].node_type.port_of
    if port_of is None:
        return
    try:
        port_of(output)
    except Exception:
        kind = plan.nodes[node_id].node_type.name
        example = '{"result": true}' if kind == "condition" else '{"value": ..., "case": "..."}'
        raise HubError(
            f"the substitute output for {kind} step {node_id!r} must look like its output "
            f"(such as {example}) so the run can pick the edge to take"
        ) from None


def _override(
    plan: ExecutionPlan, definition: dict[str, Any], node_id: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    """The step's parameters with ``parameters`` on top, checked by compiling the document
    with them (bad parameters fail here, with the diagnostics' paths)."""
    merged = {**plan.nodes[node_id].spec.parameters, **parameters}
    doc = {
        **definition,
        "nodes": [
            {**n, "parameters": merged} if n.get("id") == node_id else n
            for n in definition.get("nodes", [])
        ],
    }
    compile_workflow(doc).raise_for_errors()
    return merged
