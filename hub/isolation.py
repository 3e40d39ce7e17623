"""Where a run executes (docs/dsl.md, "Isolation modes"), decided from the definition it runs
(its ``settings.isolation`` is the effective one: hub.overrides writes it in)."""

from __future__ import annotations

from typing import Any

# Built-in nodes that run in the engine itself, take microseconds (or sleep) and bound their
# expressions' size and time: a workflow of these alone needs no process of its own. Not
# `foreach` (unbounded loops of expressions), not `workflow` (a parent that waits on
# children), not plugins (their code is not ours to run in the supervisor).
SUPERVISOR_NODE_TYPES = frozenset(
    {"set", "condition", "switch", "merge", "delay", "log", "fail", "datetime"}
)


def isolation_of(definition: dict[str, Any]) -> str:
    """The definition's isolation mode; unset is ``exclusive``."""
    settings = definition.get("settings")
    isolation = settings.get("isolation") if isinstance(settings, dict) else None
    return str(isolation or "exclusive")


def runs_in_supervisor(definition: dict[str, Any]) -> bool:
    """Whether the supervisor runs it in its own process: the ``auto`` mode, and every node
    one of SUPERVISOR_NODE_TYPES (other ``auto`` workflows run ``exclusive``)."""
    if isolation_of(definition) != "auto":
        return False
    nodes = definition.get("nodes")
    return isinstance(nodes, list) and all(_control_node(node) for node in nodes)


def _control_node(node: Any) -> bool:
    kind = node.get("type") if isinstance(node, dict) else None
    return isinstance(kind, str) and kind in SUPERVISOR_NODE_TYPES
