"""Node actors: pooled processes that run action nodes and keep their state warm."""

from __future__ import annotations

import ray

from actors._process import tune_process
from hub.nodes import NodeCall, NodeResult, default_registry, invoke_reporting
from hub.records import ErrorInfo


@ray.remote(num_cpus=0)
class NodeActor:
    """Runs calls of one node type. Never raises: failures come back as ErrorInfo."""

    def __init__(self, node_type: str) -> None:
        tune_process()
        self.registry = default_registry()
        self.node_type = self.registry.get(node_type)

    async def run(self, call: NodeCall) -> NodeResult | ErrorInfo:
        return await invoke_reporting(self.registry, call)

    async def ping(self) -> str:
        return self.node_type.name
