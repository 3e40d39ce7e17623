"""What ``hub status`` shows of a cluster: its nodes, their resources, and which of the
runtime's actors live on each. Pure: built from Ray's node table and actor list (as plain
dicts), so it is unit-tested without a cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from hub.placement import HEAD_RESOURCE

API_REPLICA_PREFIX = "SERVE_REPLICA::hub-api#"
# Resources Ray gives every node on its own: not worth showing.
_HIDDEN = ("node:", "memory", "object_store_memory", "accelerator_type:")


def role(actor_name: str) -> str | None:
    """The runtime role an actor's name says it plays, or None for someone else's actor:
    ``node-pool:http:3`` → ``node-pool:http``, ``execution:12`` → ``execution``."""
    if actor_name.startswith(API_REPLICA_PREFIX):
        return "api"
    head, _, rest = actor_name.partition(":")
    if head == "node-pool" and rest:
        return f"node-pool:{rest.rsplit(':', 1)[0]}"
    if head in ("execution", "ocr") and rest:
        return head
    if actor_name in ("supervisor", "recorder", "desktop"):
        return actor_name
    return None


def shown_resources(resources: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in sorted(resources.items()) if not any(k.startswith(h) for h in _HIDDEN)}


def node_views(
    nodes: Iterable[Mapping[str, Any]], actors: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per Ray node: id, address, alive, head, resources, metrics endpoint, and the
    runtime's live actors there (names, and a count per role)."""
    on_node: dict[str, list[str]] = {}
    for actor in actors:
        if actor.get("state") == "ALIVE" and role(str(actor.get("name") or "")) is not None:
            on_node.setdefault(str(actor.get("node_id")), []).append(str(actor["name"]))
    views = []
    for node in nodes:
        node_id = str(node["NodeID"])
        names = sorted(on_node.get(node_id, []))
        resources = dict(node.get("Resources") or {})
        port = node.get("MetricsExportPort")
        views.append(
            {
                "node_id": node_id,
                "alive": bool(node.get("Alive")),
                "address": node.get("NodeManagerAddress"),
                "head": HEAD_RESOURCE in resources,
                "resources": resources,
                "metrics_url": f"http://{node.get('NodeManagerAddress')}:{port}/metrics"
                if port
                else None,
                "actors": names,
                "roles": dict(sorted(Counter(role(n) or "" for n in names).items())),
            }
        )
    views.sort(key=lambda v: (not v["head"], not v["alive"], v["address"] or "", v["node_id"]))
    return views


def where(views: Iterable[Mapping[str, Any]], actor_role: str) -> str | None:
    """The node id that hosts an actor of ``actor_role`` (the first, for a pool)."""
    for view in views:
        if actor_role in view["roles"]:
            return str(view["node_id"])
    return None


def describe(views: Iterable[Mapping[str, Any]]) -> list[str]:
    """Lines for a terminal: a node per line, then what runs there."""
    lines = []
    for view in views:
        resources = ", ".join(f"{k} {v:g}" for k, v in shown_resources(view["resources"]).items())
        state = "head" if view["head"] else "worker"
        if not view["alive"]:
            state += ", dead"
        lines.append(f"{view['node_id'][:12]} {view['address']} ({state})  {resources or '-'}")
        roles = [f"{r} x{n}" if n > 1 else r for r, n in view["roles"].items()]
        if roles:
            lines.append(f"    runs: {', '.join(roles)}")
        if view["metrics_url"] and view["alive"]:
            lines.append(f"    metrics: {view['metrics_url']}")
    return lines
