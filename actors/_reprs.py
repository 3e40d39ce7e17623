"""What the runtime's actors say they are: their ``__repr__`` (Ray's dashboard lists it in the
Actors page's Repr column, and prefixes the actor's log lines with it) and the names of the
node calls an ExecutionActor makes (the Tasks page and ``ray list tasks``).

Ray records an actor's repr once, when the actor has been created (Ray 2.60 keeps it in the
GCS actor table from the creation task's reply), so the dashboard's Repr column shows what was
true then: for a pooled ExecutionActor, ``idle``. What an actor runs now is its running task,
named by the execution (``execution:<id>``, by the supervisor) or by the node call (below).
The repr still describes the live state whenever it is asked for (``where()``, logs, tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHORT_ID = 8
SHOWN_RUNS = 3


def _run(record: Any) -> str:
    """``<workflow> v<version> <short id> <state>`` of an ExecutionRecord."""
    status = getattr(record.status, "value", record.status)
    return f"{record.workflow_id} v{record.workflow_version} {record.id[:SHORT_ID]} {status}"


def execution_actor(records: Mapping[str, Any], *, shared: bool) -> str:
    """``ExecutionActor(<workflow> v<version> <short id> <state>)``, or ``(idle)``; a shared
    actor says so and shows its first few runs."""
    runs = [_run(records[key]) for key in sorted(records)]
    if not shared:
        return f"ExecutionActor({runs[0] if runs else 'idle'})"
    if not runs:
        return "ExecutionActor(shared, idle)"
    more = f", +{len(runs) - SHOWN_RUNS} more" if len(runs) > SHOWN_RUNS else ""
    return f"ExecutionActor(shared, {len(runs)} runs: {'; '.join(runs[:SHOWN_RUNS])}{more})"


def node_actor(node_type: str, family: str | None, inflight: int, concurrency: int) -> str:
    """``NodeActor(<type> [<family> family], <n>/<max> calls)``: its pool and its load."""
    gated = f" [{family} family]" if family else ""
    return f"NodeActor({node_type}{gated}, {inflight}/{concurrency} calls)"


def desktop_actor(
    display: str | None, *, enabled: bool, dry_run: bool, sessions: int, inflight: int
) -> str:
    """``DesktopActor(DISPLAY=:1, enabled|disabled[, dry run], <n> clicker sessions running,
    <n> desktop calls)``."""
    gates = ("enabled" if enabled else "disabled") + (", dry run" if dry_run else "")
    running = f"{sessions} clicker session{'s' if sessions != 1 else ''} running"
    return f"DesktopActor(DISPLAY={display or '-'}, {gates}, {running}, {inflight} calls)"


def run_task_name(record: Any) -> str:
    """The Ray task name of a run on an ExecutionActor: its workflow, version and execution
    (Ray shows an actor's repr as it was at creation, so what an actor runs now is here)."""
    return f"run {record.workflow_id} v{record.workflow_version} execution:{record.id}"


def node_call_name(call: Any) -> str:
    """The Ray task name of a node call: which step of which execution a node actor runs."""
    return (
        f"{call.node_type} {call.workflow_id}.{call.node_id}#{call.attempt} "
        f"execution:{call.execution_id}"
    )
