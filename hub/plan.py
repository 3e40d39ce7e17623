"""The compiled plan: what the engine runs. Built only from a document without errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.expressions import CompiledValue
from hub.model import InputSpec, NodeSpec, OnError, RetryPolicy, WorkflowSettings
from hub.nodes import NodeType
from hub.triggers import TriggerSpec

SUCCESS_PORT = "success"
ERROR_PORT = "error"


@dataclass(frozen=True)
class PlanEdge:
    source: str
    target: str
    port: str  # "success" for an edge without `when`


@dataclass(frozen=True)
class PlanNode:
    id: str
    spec: NodeSpec
    node_type: NodeType
    parameters: CompiledValue
    on_error: OnError
    retry: RetryPolicy
    timeout_s: float | None
    item_type: NodeType | None = None  # a foreach's: what runs once per item

    @property
    def inline(self) -> bool:
        return self.node_type.inline


@dataclass(frozen=True)
class ExecutionPlan:
    workflow_id: str
    version: str
    name: str | None
    nodes: Mapping[str, PlanNode]
    edges: tuple[PlanEdge, ...]
    incoming: Mapping[str, tuple[int, ...]]  # node id -> indexes into edges
    outgoing: Mapping[str, tuple[int, ...]]
    levels: tuple[tuple[str, ...], ...]  # topological levels: nodes of a level are independent
    ancestors: Mapping[str, frozenset[str]]
    inputs: Mapping[str, InputSpec]
    input_schema: dict[str, Any]
    settings: WorkflowSettings
    triggers: tuple[TriggerSpec, ...] = ()

    @property
    def start_nodes(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if not self.incoming[n])

    def summary(self) -> dict[str, Any]:
        """A JSON view of the plan for clients (levels, ports, upstream sets)."""
        return {
            "levels": [list(level) for level in self.levels],
            "nodes": {
                nid: {
                    "type": node.node_type.name,
                    "inline": node.inline,
                    "upstream": sorted(self.ancestors[nid]),
                    "on_error": node.on_error.value,
                }
                for nid, node in self.nodes.items()
            },
            "edges": [{"from": e.source, "to": e.target, "port": e.port} for e in self.edges],
        }
