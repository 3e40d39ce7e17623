"""Node actors: pooled processes that run action nodes and keep their state warm."""

from __future__ import annotations

import ray

from actors._process import tune_process
from hub.errors import StepFailed
from hub.nodes import NodeCall, NodeResult, default_registry, invoke
from hub.records import ErrorInfo


@ray.remote(num_cpus=0)
class NodeActor:
    """Runs calls of one node type. Never raises: failures come back as ErrorInfo, so the
    category and retryability cross the process boundary intact."""

    def __init__(self, node_type: str) -> None:
        tune_process()
        self.registry = default_registry()
        self.node_type = self.registry.get(node_type)

    async def run(self, call: NodeCall) -> NodeResult | ErrorInfo:
        try:
            return await invoke(self.registry, call)
        except StepFailed as failure:
            return ErrorInfo(
                message=failure.message,
                category=failure.category.value,
                retryable=failure.retryable,
                attempts=call.attempt,
                node_id=call.node_id,
            )

    async def ping(self) -> str:
        return self.node_type.name
