"""A no-op action node for benchmarks: measures the pooled-node path, not a node's own work."""

from __future__ import annotations

from typing import Any

from hub import NodeContext, node_type
from hub.nodes import NoParameters


@node_type("bench.noop", parameters=NoParameters)
async def noop(params: NoParameters, ctx: NodeContext) -> dict[str, Any]:
    """Do nothing, remotely."""
    return {}
