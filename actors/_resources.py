"""The supervisor's resource side: node pools, the DesktopActor and OcrActors. A mixin of
SupervisorActor, kept apart from runs and recovery so each file has one concern."""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from actors._placement import actor_options
from actors.node_pool import NodeActor
from actors.ocr import OcrActor
from hub.errors import NoDesktopNode
from hub.nodes import default_registry
from hub.placement import desktop_placement, ocr_placement, pool_placement
from hub.settings import RuntimeSettings

NO_DESKTOP_NODE = (
    "no node of this runtime has a display (none advertises the 'desktop' resource): start "
    "the runtime on the machine with the display with `hub up --desktop`, or join that machine "
    "to it with `ray start --address=HEAD:6380 --resources='{\"desktop\": 1}'`"
)


def _actor_id(handle: Any) -> str:
    return str(handle._actor_id.hex())


class ResourcePools:
    namespace: str
    settings: RuntimeSettings
    recorder: Any
    incarnation: str  # "" for the first supervisor; names stay unique after a restart

    def init_resources(self) -> None:
        self.pools: dict[str, list[Any]] = {}
        self.pool_counter: dict[str, int] = {}
        self._desktop: Any = None
        self._ocr: dict[tuple[str, float], Any] = {}

    # --- node pools -------------------------------------------------------------------------

    async def node_pool(self, node_type: str) -> tuple[int, int, list[Any]]:
        """(max size, concurrency per actor, members) of a node type's pool, created lazily."""
        config = default_registry().get(node_type).pool
        members = self.pools.get(node_type)
        if members is None:
            members = self.pools[node_type] = [
                self._new_node_actor(node_type) for _ in range(max(1, config.min_size))
            ]
        return config.max_size, config.concurrency, list(members)

    def prewarm_pools(self) -> list[str]:
        """Make the pools of the enabled node families (``code``, ``shell``) now, one member
        each (their ``min_size``), so the first such step of a new runtime finds a process
        ready instead of waiting about a second for one. Other pools, and pools pinned to nodes
        with resources (HUB_NODE_POOL_RESOURCES), which may join later, are made on first use."""
        families = self.settings.enabled_families() - {"desktop"}
        pinned = self.settings.node_pool_resources  # their nodes may join later: on first use
        warmed = []
        for node_type in default_registry().types():
            if (
                node_type.family in families
                and node_type.placement == "pool"
                and not pinned.get(node_type.name)
            ):
                self.pools.setdefault(
                    node_type.name,
                    [
                        self._new_node_actor(node_type.name)
                        for _ in range(max(1, node_type.pool.min_size))
                    ],
                )
                warmed.append(node_type.name)
        return sorted(warmed)

    async def pools_ready(self) -> dict[str, int]:
        """Wait until every pool member made so far answers; {node type: members}."""
        members = [m for pool in self.pools.values() for m in pool]
        await asyncio.gather(*(m.ping.remote() for m in members))
        return {node_type: len(pool) for node_type, pool in self.pools.items()}

    async def grow_node_pool(self, node_type: str) -> list[Any]:
        max_size, _, members = await self.node_pool(node_type)
        if len(members) < max_size:
            self.pools[node_type].append(self._new_node_actor(node_type))
        return list(self.pools[node_type])

    async def replace_node_actor(self, node_type: str, handle: Any) -> list[Any]:
        members = self.pools.get(node_type, [])
        gone = _actor_id(handle)
        for i, member in enumerate(members):
            if _actor_id(member) == gone:
                ray.kill(member, no_restart=True)
                members[i] = self._new_node_actor(node_type)
        return list(members)

    def _new_node_actor(self, node_type: str) -> Any:
        n = self.pool_counter[node_type] = self.pool_counter.get(node_type, 0) + 1
        config = default_registry().get(node_type).pool
        placement = pool_placement(node_type, self.settings.node_pool_resources)
        return NodeActor.options(  # type: ignore[attr-defined]
            name=f"node-pool:{node_type}:{self.incarnation}{n}",
            namespace=self.namespace,
            max_concurrency=config.concurrency,
            **actor_options(placement),
        ).remote(node_type)

    # --- desktop ----------------------------------------------------------------------------

    async def desktop(self) -> Any:
        """The DesktopActor, created on the node that advertises the ``desktop`` resource."""
        if self._desktop is None:
            if ray.cluster_resources().get("desktop", 0) < 1:  # type: ignore[no-untyped-call]
                raise NoDesktopNode(NO_DESKTOP_NODE)
            from actors.desktop import DesktopActor  # its screen and input stack: only here

            self._desktop = DesktopActor.options(  # type: ignore[attr-defined]
                name="desktop",
                namespace=self.namespace,
                max_concurrency=100,
                # Detached: clicker sessions outlive a supervisor restart. Restarted (on a node
                # with the desktop resource) when its node is lost; a call in flight then fails
                # rather than clicking twice.
                lifetime="detached",
                max_restarts=-1,
                get_if_exists=True,
                **actor_options(desktop_placement()),
            ).remote(
                self.recorder,
                self.settings.enable_desktop,
                self.settings.desktop_dry_run,
                self.settings.desktop_max_clicks_per_s,
                self.settings.ocr_placement,
            )
            # A detached one made earlier (before a supervisor restart) kept its own gates.
            await self._desktop.set_gates.remote(
                self.settings.enable_desktop, self.settings.desktop_dry_run
            )
        return self._desktop

    async def ocr_actor(self, backend: str, num_gpus: float) -> Any:
        """The OcrActor for a backend (one per backend and GPU share), created on first use."""
        key = (backend, num_gpus)
        if key not in self._ocr:
            self._ocr[key] = OcrActor.options(  # type: ignore[attr-defined]
                name=f"ocr:{self.incarnation}{len(self._ocr) + 1}",
                namespace=self.namespace,
                max_concurrency=8,
                **actor_options(ocr_placement(num_gpus)),
            ).remote(backend)
        return self._ocr[key]
