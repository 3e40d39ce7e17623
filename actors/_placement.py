"""Ray's actor options for a hub.placement.Placement."""

from __future__ import annotations

from typing import Any

from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from hub.placement import Placement


def actor_options(placement: Placement) -> dict[str, Any]:
    options: dict[str, Any] = placement.ray_options()
    if placement.node_id is not None:
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node_id=placement.node_id, soft=placement.soft
        )
    return options
