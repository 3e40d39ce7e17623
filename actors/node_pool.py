"""Node actors: pooled processes that run action nodes and keep their state warm."""

from __future__ import annotations

import asyncio
import os

import ray

from actors import _reprs
from actors._metrics import NodeActorMetrics
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
        context = ray.get_runtime_context()
        name = context.get_actor_name() or context.get_actor_id()
        self.metrics = NodeActorMetrics(self.node_type.name, str(name))
        # Async actors run __init__ on their event loop. Kept so the task is not collected.
        self.metrics_task = asyncio.get_running_loop().create_task(self.metrics.keep_fresh())

    def __repr__(self) -> str:
        """Its node type (and gated family) and its load, for Ray's dashboard and logs."""
        node_type = getattr(self, "node_type", None)
        if node_type is None:
            return "NodeActor(starting)"
        inflight = self.metrics.inflight if hasattr(self, "metrics") else 0
        return _reprs.node_actor(
            node_type.name, node_type.family, inflight, node_type.pool.concurrency
        )

    async def where(self) -> dict[str, object]:
        """Its process and its repr (tests, operators)."""
        return {"pid": os.getpid(), "repr": repr(self)}

    async def run(self, call: NodeCall, *after: object) -> NodeResult | ErrorInfo:
        """Run one call. ``after``: the commits it waited for (Ray resolved them first)."""
        self.metrics.call_started()
        try:
            return await invoke_reporting(self.registry, call)
        finally:
            self.metrics.call_ended()

    async def ping(self) -> str:
        return self.node_type.name
