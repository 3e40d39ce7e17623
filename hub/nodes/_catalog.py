"""The node-type catalogue: what ``hub nodes`` and ``GET /api/v1/node-types`` show."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from hub.nodes._registry import NodeRegistry, NodeType


class PoolInfo(BaseModel):
    min_size: int
    max_size: int
    concurrency: int


class NodeTypeInfo(BaseModel):
    """One node type: where it runs, whether this runtime allows it, and its parameters."""

    name: str
    description: str
    family: str | None  # a gated family ("code", "shell", "desktop"), None for ungated types
    runs_in: Literal["execution-actor", "node-pool", "desktop"]
    isolated: bool  # one call per process, replaced on a timeout
    pool: PoolInfo | None
    enabled: bool
    default_timeout_s: float | None
    literal_parameters: list[str]  # JSON pointers that must be literal text
    parameters_schema: dict[str, Any]  # JSON Schema of the parameters (aliases as written)


def describe(node: NodeType, enabled_families: frozenset[str]) -> NodeTypeInfo:
    if node.inline:
        runs_in: Literal["execution-actor", "node-pool", "desktop"] = "execution-actor"
    else:
        runs_in = "desktop" if node.placement == "desktop" else "node-pool"
    pool = node.pool
    return NodeTypeInfo(
        name=node.name,
        description=node.description,
        family=node.family,
        runs_in=runs_in,
        isolated=node.isolated,
        pool=None
        if runs_in != "node-pool"
        else PoolInfo(min_size=pool.min_size, max_size=pool.max_size, concurrency=pool.concurrency),
        enabled=node.family is None or node.family in enabled_families,
        default_timeout_s=node.default_timeout_s,
        literal_parameters=list(node.literal),
        parameters_schema=node.parameters.model_json_schema(by_alias=True),
    )


def catalogue(registry: NodeRegistry, enabled_families: frozenset[str]) -> list[NodeTypeInfo]:
    """Every registered type, built-in and plugin, by name."""
    return [describe(registry.get(name), enabled_families) for name in registry.names()]
