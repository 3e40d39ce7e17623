"""Where each of the runtime's actors runs on a Ray cluster. Pure decisions, unit-tested
without a cluster; ``actors._placement`` turns a Placement into Ray's actor options.

- The supervisor is pinned to the head when ``hub up`` runs there, and only prefers the node
  that started it otherwise.
- The Recorder is pinned to the node that holds a SQLite store (the file is on that machine's
  disk); with PostgreSQL it may run anywhere.
- Node pools and warm ExecutionActors spread over the nodes that have the resources they ask
  for (a node type asks for more with the ``node_pool_resources`` setting). When a node joins
  or leaves, the idle warm ExecutionActors are made anew, pinned round-robin over the nodes.
- The DesktopActor follows the ``desktop`` resource; OCR actors that read on a GPU ask for a
  share of one, so only GPU nodes take them (hub.desktop.placement decides when).
- The HTTP API replica stays on the head node, where the API port is advertised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import HubError

HEAD_RESOURCE = "node:__internal_head__"  # Ray gives the head node this resource
DESKTOP_RESOURCE = "desktop"
# Resource names Ray takes as arguments of their own rather than in ``resources``.
_BUILTIN = {"CPU": "num_cpus", "GPU": "num_gpus"}


@dataclass(frozen=True)
class Placement:
    """Where an actor may run. ``node_id`` pins it to one node (``soft``: only preferred);
    ``spread`` spreads actors of the same kind over the nodes; ``resources`` are what it asks
    for (``CPU`` and ``GPU`` included)."""

    node_id: str | None = None
    soft: bool = False
    spread: bool = False
    resources: Mapping[str, float] = field(default_factory=dict)

    def ray_options(self) -> dict[str, object]:
        """The parts of Ray's actor options that do not need Ray's classes (the node affinity
        strategy is built by actors._placement)."""
        options: dict[str, object] = {}
        custom = {k: v for k, v in self.resources.items() if k not in _BUILTIN}
        for name, argument in _BUILTIN.items():
            if name in self.resources:
                options[argument] = self.resources[name]
        if custom:
            options["resources"] = custom
        if self.spread and self.node_id is None:
            options["scheduling_strategy"] = "SPREAD"
        return options


def is_sqlite(database_url: str) -> bool:
    return database_url.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"


def runner_reaches_store(database_url: str, runner_node_id: str, store_node_id: str) -> bool:
    """Whether an ExecutionActor on ``runner_node_id`` can open the store itself (direct step
    writes): a server database from anywhere; a SQLite file only on the node that holds it (the
    Recorder's); an in-memory SQLite database never (only the Recorder's process sees it)."""
    if not is_sqlite(database_url):
        return True
    path = database_url.split("?", 1)[0].partition("://")[2].lstrip("/")
    if path in ("", ":memory:") or "mode=memory" in database_url:
        return False
    return runner_node_id == store_node_id


def supervisor_placement(start_node_id: str | None, on_head: bool = False) -> Placement:
    """Pinned to the head when started there: the head lives as long as the cluster. Started on
    another node, it only prefers that one (a soft preference, which Ray 2.60 treats as a
    hint), so losing that node does not take the runtime with it."""
    return Placement(node_id=start_node_id, soft=not on_head)


def recorder_placement(database_url: str, store_node_id: str | None) -> Placement:
    """A SQLite file lives on one machine: the Recorder must run there, and waits for that
    node rather than opening a new, empty store on another one."""
    if is_sqlite(database_url) and store_node_id is not None:
        return Placement(node_id=store_node_id)
    return Placement()


def pool_placement(node_type: str, pool_resources: Mapping[str, Mapping[str, float]]) -> Placement:
    return Placement(spread=True, resources=dict(pool_resources.get(node_type, {})))


def execution_placement(node_id: str | None = None) -> Placement:
    """SPREAD, or pinned to a node (see ``spread_over``)."""
    return Placement(node_id=node_id) if node_id else Placement(spread=True)


@dataclass
class NodeWatch:
    """Which nodes joined or left the cluster, told once each. Warm ExecutionActors are made
    anew then: those made before sit on the old nodes, or died with a lost one.

    A node counts as joined once it was alive at two looks in a row: one that has just
    registered may not be in the view of Ray's scheduler yet."""

    known: frozenset[str] | None = None  # the nodes accounted for; None before the first look
    last: frozenset[str] = frozenset()  # the nodes alive at the previous look

    def look(self, alive: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
        """The nodes that joined and those that left since the last look, given the nodes
        alive now. A node is told joined once; one that left before it settled is neither."""
        if self.known is None:  # the first look: the nodes there are were there before
            self.known = self.last = alive
            return frozenset(), frozenset()
        settled = alive & self.last
        joined, left = settled - self.known, self.known - alive
        self.known = (self.known & alive) | settled
        self.last = alive
        return joined, left


def spread_over(
    joined: frozenset[str], alive: frozenset[str], count: int, gpu_nodes: frozenset[str]
) -> list[str]:
    """The node of each of ``count`` warm ExecutionActors made anew after nodes joined or
    left: round-robin over the alive nodes, the joined ones first (they have none yet). GPU
    nodes are left to GPU work unless there are no others (Ray's own scheduler does the same).

    Pinned rather than SPREAD or a soft preference: on Ray 2.60 both are best effort, and the
    raylet that gets the request may hand the actor back to the head. A pinned actor whose node
    is lost dies with it; the supervisor then resumes the run on another, and makes the idle
    ones anew at its next look."""
    candidates = (alive - gpu_nodes) or alive
    order = sorted(joined & candidates) + sorted(candidates - joined)
    return [order[i % len(order)] for i in range(count)] if order else []


def desktop_placement() -> Placement:
    return Placement(resources={DESKTOP_RESOURCE: 1})


def ocr_placement(num_gpus: float) -> Placement:
    return Placement(resources={"GPU": num_gpus} if num_gpus > 0 else {})


def api_placement() -> Placement:
    return Placement(resources={HEAD_RESOURCE: 0.001})


def check_pool_resources(
    pool_resources: Mapping[str, Mapping[str, float]],
    known_types: Iterable[str],
    inline_types: Iterable[str] = (),
) -> None:
    """Refuse a ``node_pool_resources`` setting that names a node type that does not exist or
    runs inline (it has no pool), or asks for an amount that is not a positive number."""
    known, inline = set(known_types), set(inline_types)
    problems = []
    for node_type, resources in pool_resources.items():
        where = f"node_pool_resources[{node_type!r}]"
        if node_type not in known:
            problems.append(f"{where}: no node type {node_type!r}")
        elif node_type in inline:
            problems.append(f"{where}: {node_type} runs inside the ExecutionActor, not in a pool")
        for name, amount in resources.items():
            if not name:
                problems.append(f"{where}: an empty resource name")
            elif not (isinstance(amount, int | float) and math.isfinite(amount) and amount > 0):
                problems.append(f"{where}[{name!r}]: {amount!r} is not a positive number")
            elif name == DESKTOP_RESOURCE:
                problems.append(
                    f"{where}: 'desktop' belongs to the DesktopActor (one per display); "
                    "label the node with a resource of its own"
                )
    if problems:
        raise HubError("invalid placement settings: " + "; ".join(problems))


def check_pool_settings(pool_resources: Mapping[str, Mapping[str, float]], registry: Any) -> None:
    """check_pool_resources against a node registry's types (hub.nodes.NodeRegistry)."""
    unpooled = [t.name for t in registry.types() if t.inline or t.placement == "desktop"]
    check_pool_resources(pool_resources, registry.names(), unpooled)
