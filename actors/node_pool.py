"""Node actors: pooled processes that run action nodes and keep their state warm."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import CancelledError, Future
from concurrent.futures import wait as wait_futures
from typing import Any

import ray
from ray.runtime_context import RuntimeContext

from actors import _reprs
from actors._metrics import NodeActorMetrics
from actors._process import tune_process
from hub.errors import ErrorCategory, StepFailed
from hub.nodes import (
    NodeCall,
    NodeRegistry,
    NodeResult,
    default_registry,
    invoke_blocking_reporting,
    invoke_reporting,
    reported,
)
from hub.records import ErrorInfo

CANCEL_POLL_S = 0.05
"""How often a call waiting for its coroutine looks whether its caller cancelled it."""


@ray.remote(num_cpus=0, concurrency_groups={"control": 1})  # type: ignore[call-overload]
class NodeActor:
    """Runs calls of one node type. Never raises: failures come back as ErrorInfo.

    A threaded actor (the supervisor sets ``max_concurrency`` to the pool's concurrency): each
    call runs in one of Ray's threads. An isolated blocking type (``def``, NodeType.blocking:
    ``code``) runs right there; any other runs on the actor's one event loop, in a thread of
    its own (a blocking one in a worker thread from there), as an async actor would run it,
    without Ray's asyncio machinery on every call (bench/README.md,
    "Threaded node actors and step commits on the driver"). ``where`` and ``ping`` answer from
    their own thread, so a busy actor still answers them."""

    def __init__(self, node_type: str) -> None:
        tune_process()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="node-loop", daemon=True).start()
        # Plugins are imported on the loop, as an async actor imported them (one that sets up
        # loop-bound state at import time keeps working).
        self.registry = asyncio.run_coroutine_threadsafe(_registry(), self.loop).result()
        self.node_type = self.registry.get(node_type)
        context = ray.get_runtime_context()
        name = context.get_actor_name() or context.get_actor_id()
        self.metrics = NodeActorMetrics(self.node_type.name, str(name))
        self.metrics_task = asyncio.run_coroutine_threadsafe(self.metrics.keep_fresh(), self.loop)

    def __repr__(self) -> str:
        """Its node type (and gated family) and its load, for Ray's dashboard and logs."""
        node_type = getattr(self, "node_type", None)
        if node_type is None:
            return "NodeActor(starting)"
        inflight = self.metrics.inflight if hasattr(self, "metrics") else 0
        return _reprs.node_actor(
            node_type.name, node_type.family, inflight, node_type.pool.concurrency
        )

    @ray.method(concurrency_group="control")
    def where(self) -> dict[str, object]:
        """Its process and its repr (tests, operators)."""
        return {"pid": os.getpid(), "repr": repr(self)}

    def run(self, call: NodeCall, *after: object) -> NodeResult | ErrorInfo:
        """Run one call. ``after``: the commits it waited for (Ray resolved them first)."""
        context = ray.get_runtime_context()
        if context.is_canceled():  # cancelled while it waited for a thread
            return reported(_cancelled(), call)
        self.metrics.call_started()
        try:
            if self.node_type.in_call_thread:
                return invoke_blocking_reporting(self.registry, call)
            return self.on_loop(invoke_reporting(self.registry, call), call, context)
        finally:
            self.metrics.call_ended()

    def on_loop(
        self,
        coroutine: Coroutine[Any, Any, NodeResult | ErrorInfo],
        call: NodeCall,
        context: RuntimeContext,
    ) -> NodeResult | ErrorInfo:
        """Run ``coroutine`` on the actor's event loop and wait for it here. A ``ray.cancel`` of
        this call (its caller gave up: a step timeout, a cancelled execution) cancels the
        coroutine: the node sees ``CancelledError`` at its next ``await``."""
        future: Future[NodeResult | ErrorInfo] = asyncio.run_coroutine_threadsafe(
            coroutine, self.loop
        )
        while not wait_futures([future], timeout=CANCEL_POLL_S).done:
            if context.is_canceled():
                future.cancel()
                return reported(_cancelled(), call)
        try:
            return future.result()
        except CancelledError:  # the node's own code raised it
            return reported(_cancelled(), call)

    @ray.method(concurrency_group="control")
    def ping(self) -> str:
        return self.node_type.name


async def _registry() -> NodeRegistry:
    return default_registry()


def _cancelled() -> StepFailed:
    return StepFailed("cancelled by its caller", category=ErrorCategory.NODE_ERROR)
