"""What the supervisor sees of itself and of the cluster: ``hub status`` (nodes, pools, where
each of the runtime's actors lives), the gauges it sets for the Ray dashboard (docs/metrics.md),
and nodes joining or leaving (its warm ExecutionActors are made anew over them). A mixin of
SupervisorActor, kept apart so the supervisor's file stays about runs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from ray.exceptions import RayActorError

from actors._local_runs import SupervisorRuns
from actors._metrics import SupervisorMetrics
from actors._sleeping import Sleepers
from actors.breakers import breakers_summary
from hub.admission import AdmissionQueue, SharedPool, WarmPool
from hub.cluster_view import node_views, where
from hub.placement import NodeWatch, spread_over
from hub.settings import RuntimeSettings

# How often the supervisor's gauges are set.
METRICS_SAMPLE_S = 1.0
# How long `hub status` reuses what Ray's state API said of where the actors are.
PLACEMENT_TTL_S = 2.0
# How often the supervisor looks for nodes that joined or left.
NODES_CHECK_S = 5.0


class Observability:
    namespace: str
    settings: RuntimeSettings
    admission: AdmissionQueue
    shared_admission: AdmissionQueue
    warm: WarmPool[Any]
    shared: SharedPool[Any]
    local: SupervisorRuns
    running: dict[str, Any]
    sleepers: Sleepers
    pools: dict[str, list[Any]]
    recovered: dict[str, int]
    actor_count: int
    metrics: SupervisorMetrics
    _desktop: Any

    async def _ready(self) -> None:
        raise NotImplementedError

    def _new_execution_actor(self, node_id: str | None = None) -> Any:
        raise NotImplementedError

    def init_observability(self) -> None:
        """The metrics and their sampling task (started on the actor's event loop), and the
        cache of where the actors are."""
        self.metrics = SupervisorMetrics()
        self.metrics_sampler = asyncio.get_running_loop().create_task(self._sample_metrics())
        self.respread = 0  # times the warm ExecutionActors were made anew as nodes came or went
        self.node_watcher = asyncio.get_running_loop().create_task(self._follow_nodes())
        self._placement_lock = asyncio.Lock()
        self._placement_cache: tuple[float, tuple[list[dict[str, Any]], str | None]] | None = None

    async def status(self) -> dict[str, Any]:
        await self._ready()
        desktop = await self._desktop_where()
        actors, unknown = await self._placement()
        nodes = node_views(ray.nodes(), actors)  # type: ignore[no-untyped-call]
        return {
            "nodes": nodes,
            # Why the actors' places are unknown, when Ray's state API did not answer.
            "placement_unknown": unknown,
            "placement": {r: where(nodes, r) for r in ("supervisor", "recorder", "api", "desktop")},
            "desktop": desktop,
            "running": len(self.admission.running) + len(self.shared_admission.running),
            "queued": len(self.admission.waiting) + len(self.shared_admission.waiting),
            "sleeping": len(self.sleepers),  # parked in a long delay (hub.parking)
            "max_concurrent_executions": self.admission.limit,
            "execution_actors": {
                "warm": len(self.warm.idle),
                # exclusive ones
                "busy": max(0, len(self.running) - self.shared.carried() - self.local.carried()),
                "created": self.actor_count,
                "respread": self.respread,
                # The shared isolation mode's actors and the runs they carry now.
                "shared": len(self.shared.members),
                "shared_runs": self.shared.carried(),
            },
            # The auto isolation mode's runs of control nodes, carried by the supervisor.
            "supervisor_runs": self.local.carried(),
            "node_pools": {t: len(m) for t, m in self.pools.items()},
            "recovered": dict(self.recovered),
            "breakers": await breakers_summary(self.namespace),
            "settings": self.settings.model_dump(),
        }

    async def _desktop_where(self) -> dict[str, Any] | None:
        """Where the DesktopActor is, or why it cannot say (its node is gone and it waits for
        another with the desktop resource)."""
        if self._desktop is None:
            return None
        try:
            where: dict[str, Any] = await asyncio.wait_for(self._desktop.where.remote(), 5)
        except (TimeoutError, RayActorError) as exc:
            reason = "not answering" if isinstance(exc, TimeoutError) else "lost with its node"
            return {"unavailable": f"{reason}; it restarts on a node with the desktop resource"}
        return where

    async def _placement(self) -> tuple[list[dict[str, Any]], str | None]:
        """The runtime's actors and their nodes, asked of Ray at most every PLACEMENT_TTL_S and
        once at a time however many status calls come (each costs the dashboard a query)."""
        async with self._placement_lock:
            cached = self._placement_cache
            if cached is None or time.monotonic() - cached[0] >= PLACEMENT_TTL_S:
                cached = (time.monotonic(), await asyncio.to_thread(self._runtime_actors))
                self._placement_cache = cached
            return cached[1]

    def _runtime_actors(self) -> tuple[list[dict[str, Any]], str | None]:
        """The live actors of this runtime's namespace and its API replicas, with their node,
        from Ray's state API; or none, and why (say, a cluster without a dashboard)."""
        from ray.util.state import list_actors

        # This cluster's address, always: without one, Ray asks whichever cluster started last
        # on this machine (another runtime's, or one that is gone and never answers).
        address = ray.get_runtime_context().gcs_address
        for attempt in range(2):  # the dashboard that answers may still be starting
            try:
                found = list_actors(
                    address=address, filters=[("state", "=", "ALIVE")], limit=10_000, timeout=10
                )
                break
            except Exception as exc:
                if attempt == 1:
                    return [], f"Ray's state API did not answer: {type(exc).__name__}: {exc}"[:500]
                time.sleep(1)
        return [
            {"name": a.name, "node_id": a.node_id, "state": a.state, "pid": a.pid}
            for a in found
            if a.name and (a.ray_namespace == self.namespace or a.name.startswith("SERVE_REPLICA"))
        ], None

    async def _sample_metrics(self) -> None:
        """Set the supervisor's gauges every METRICS_SAMPLE_S, for as long as it lives."""
        while True:
            self.metrics.sample(
                queue_depth=len(self.admission.waiting) + len(self.shared_admission.waiting),
                running=len(self.admission.running) + len(self.shared_admission.running),
                pools={node_type: len(members) for node_type, members in self.pools.items()},
                idle_execution_actors=len(self.warm.idle),
                busy_execution_actors=len(self.running) - self.local.carried(),
            )
            await asyncio.sleep(METRICS_SAMPLE_S)

    async def _follow_nodes(self) -> None:
        """Every NODES_CHECK_S: when nodes joined or left, make the idle warm ExecutionActors
        anew, pinned round-robin over the nodes (hub.placement.spread_over). Those made before
        sit on the nodes there were then (at `hub up`, the head alone), or died with a node."""
        watch = NodeWatch()
        while True:
            try:
                nodes = await asyncio.to_thread(ray.nodes)
            except Exception:  # the GCS is busy or restarting: look again next time
                await asyncio.sleep(NODES_CHECK_S)
                continue
            alive = frozenset(str(n["NodeID"]) for n in nodes if n["Alive"])
            gpus = frozenset(str(n["NodeID"]) for n in nodes if n["Resources"].get("GPU"))
            joined, left = watch.look(alive)
            if (joined or left) and self.warm.idle:
                self._respread(joined, alive, gpus)
            await asyncio.sleep(NODES_CHECK_S)

    def _respread(
        self, joined: frozenset[str], alive: frozenset[str], gpus: frozenset[str]
    ) -> None:
        places = iter(spread_over(joined, alive, len(self.warm.idle), gpus))
        for handle in self.warm.renew(lambda: self._new_execution_actor(next(places))):
            ray.kill(handle, no_restart=True)
        self.respread += 1
