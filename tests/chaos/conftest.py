"""Chaos helpers: a ledger workflow whose steps append to a file, and process kills."""

from __future__ import annotations

import collections
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any


def ledger_workflow(
    ledger: Path, steps: int = 10, sleep_s: float = 0.05, isolation: str = "exclusive"
) -> dict[str, Any]:
    """``steps`` shell steps in a chain; each appends '<execution id> <node id>' to ``ledger``.
    ``isolation``: the workflow's isolation mode (docs/dsl.md, "Isolation modes").

    Appending is the side effect that must happen once per step (twice at most for the step in
    flight when a process dies)."""
    nodes = [
        {
            "id": f"s{i}",
            "type": "shell",
            "parameters": {
                "argv": [
                    "sh",
                    "-c",
                    f'echo "$0 s{i}" >> {ledger}; sleep {sleep_s}',
                    "{{ $execution.id }}",
                ]
            },
        }
        for i in range(steps)
    ]
    edges = [{"from": f"s{i}", "to": f"s{i + 1}"} for i in range(steps - 1)]
    return {
        "id": f"ledger-{uuid.uuid4().hex[:8]}",
        "settings": {"isolation": isolation},
        "nodes": nodes,
        "edges": edges,
    }


def ledger_counts(ledger: Path) -> dict[str, collections.Counter[str]]:
    """Per execution, how many times each step appended."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in ledger.read_text().splitlines():
        execution_id, node_id = line.split()
        counts[execution_id][node_id] += 1
    return counts


# Every chaos test of executions runs in both isolation modes (docs/dsl.md, "Isolation modes").
ISOLATION_MODES = ("exclusive", "shared")


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def wait_for(predicate: Any, timeout_s: float = 60, every_s: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def supervisor_where() -> dict[str, Any]:
    import ray

    import hub  # noqa: F401  (imported before ray: hub chooses Ray's auth mode)

    supervisor = ray.get_actor("supervisor", namespace="runtime-hub")
    where: dict[str, Any] = ray.get(supervisor.where.remote(), timeout=60)
    return where
