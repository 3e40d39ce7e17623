"""The node-type registry: built-in types, the ``@node_type`` decorator and plugins.

Third-party packages add node types by exposing a module in the entry-point group
``runtime_hub.nodes`` (importing it registers its types) or by naming modules in the environment
variable ``HUB_NODE_MODULES`` (comma separated). Every process that runs nodes (the
ExecutionActor for inline types, node-pool actors for action types) loads the same plugins.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from hub.errors import HubError
from hub.nodes._context import NodeContext

ENTRY_POINT_GROUP = "runtime_hub.nodes"
PLUGIN_ENV = "HUB_NODE_MODULES"
DEFAULT_TIMEOUT_S = 300.0
"""The attempt limit of a type that declares none (plugins, mostly): long enough for a slow
query or model call, short enough that a stuck call does not hold its actor forever."""

P = TypeVar("P", bound=BaseModel)
# ``async def run(params, ctx)``, or a plain ``def`` for blocking work (see NodeType.blocking).
NodeFn = Callable[[Any, NodeContext], Awaitable[Any] | Any]


class NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class PoolConfig:
    """How many node actors serve a type and how many calls each takes at once."""

    min_size: int = 1
    max_size: int = 4
    concurrency: int = 64


@dataclass(frozen=True)
class NodeType:
    """One node type: its parameters model, its implementation and where it runs.

    ``inline`` types run inside the ExecutionActor (cheap, deterministic control flow); the others
    run on pooled node actors. ``isolated`` types run one call per actor process, and the pool
    kills and replaces that process when a call times out (``code``). ``family`` names a
    dangerous family that the settings must enable. ``ports`` gives the output ports a node offers
    from its raw parameters (besides ``error``); ``port_of`` picks the port from an output.
    ``default_timeout_s`` bounds an attempt when neither the node nor its parameters say how
    long it may run (None: no limit of its own); :func:`hub.nodes.attempt_timeout_s` decides.
    ``blocking``: ``run`` is a plain function (not a coroutine function), run in a worker
    thread (``asyncio.to_thread``), or in a node actor's call thread (``in_call_thread``).
    ``instant``: an inline type whose ``run`` returns without awaiting anything: no time limit
    could interrupt it, so the runner sets none (a timer a step, on the loop, saved).
    """

    name: str
    run: NodeFn
    parameters: type[BaseModel]
    inline: bool = False
    isolated: bool = False
    family: str | None = None
    ports: Callable[[dict[str, Any]], frozenset[str] | None] | None = None
    port_of: Callable[[Any], str | None] | None = None
    pool: PoolConfig = PoolConfig()
    placement: str = "pool"  # "pool": node-pool actors; "desktop": the DesktopActor
    description: str = ""
    default_timeout_s: float | None = DEFAULT_TIMEOUT_S
    # Parameters whose text must be literal, as JSON pointers ("*" for any one key or index):
    # the compiler refuses an expression there, or one that decides a value holding them.
    literal: tuple[str, ...] = ()
    # Parameters rendered later than the step starts, as JSON pointers: their expressions may
    # read roots the step itself provides ($item and $index of a foreach), and the step's own
    # rendering leaves them out (hub.plan.PlanNode.deferred holds them compiled).
    deferred: tuple[str, ...] = ()
    blocking: bool = False
    instant: bool = False

    @property
    def in_call_thread(self) -> bool:
        """Whether a node actor runs it straight in the call's thread, with no event loop in
        between: a blocking type whose runaway call the pool stops by replacing the process
        (``isolated``: ``code``). Any other blocking type goes through the actor's loop in a
        worker thread, so a cancelled call frees its call thread, as an async type's does."""
        return self.blocking and self.isolated

    def offered_ports(self, raw_parameters: dict[str, Any]) -> frozenset[str] | None:
        """The named ports this node offers, or None when they depend on run-time values."""
        return self.ports(raw_parameters) if self.ports else frozenset()


class UnknownNodeType(HubError):
    code = "unknown_node_type"


class NodeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, NodeType] = {}

    def add(self, node: NodeType) -> None:
        existing = self._types.get(node.name)
        if existing is not None and existing.run is not node.run:
            raise HubError(f"node type {node.name!r} is already registered")
        self._types[node.name] = node

    def get(self, name: str) -> NodeType:
        try:
            return self._types[name]
        except KeyError:
            close = self.closest(name)
            hint = f"; did you mean {close!r}?" if close else ""
            raise UnknownNodeType(f"unknown node type {name!r}{hint}") from None

    def closest(self, name: str) -> str | None:
        matches = difflib.get_close_matches(name, list(self._types), n=1, cutoff=0.5)
        return matches[0] if matches else None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def types(self) -> Iterable[NodeType]:
        return self._types.values()


_REGISTRY = NodeRegistry()
_plugins_loaded = False


def node_type(
    name: str,
    *,
    parameters: type[BaseModel] = NoParameters,
    inline: bool = False,
    isolated: bool = False,
    family: str | None = None,
    ports: Callable[[dict[str, Any]], frozenset[str] | None] | None = None,
    port_of: Callable[[Any], str | None] | None = None,
    pool: PoolConfig | None = None,
    placement: str = "pool",
    default_timeout_s: float | None = DEFAULT_TIMEOUT_S,
    literal: tuple[str, ...] = (),
    deferred: tuple[str, ...] = (),
    instant: bool = False,
    registry: NodeRegistry | None = None,
) -> Callable[[NodeFn], NodeFn]:
    """Register ``async def run(params, ctx)`` (or a plain ``def`` for blocking work, run in a
    thread of its own) as the node type ``name``. An inline type must be ``async``.

    ``default_timeout_s`` bounds one attempt when the workflow gives no ``timeout_s``. A type
    whose parameters have a ``timeout_s`` field with a default uses that default instead (one
    number, not two); declaring a different ``default_timeout_s`` beside it is an error."""
    own = parameter_timeout_default(parameters)
    if own is not None and default_timeout_s not in (own, DEFAULT_TIMEOUT_S):
        raise HubError(
            f"node type {name!r}: default_timeout_s={default_timeout_s} contradicts the "
            f"default of its timeout_s parameter ({own:g}); declare one of them"
        )
    default = own if own is not None else default_timeout_s
    if default is not None and default <= 0:
        raise HubError(f"node type {name!r}: default_timeout_s must be positive (or None)")

    def register(fn: NodeFn) -> NodeFn:
        blocking = not inspect.iscoroutinefunction(fn)
        if blocking and inline:
            raise HubError(
                f"node type {name!r}: an inline type runs on the ExecutionActor's event loop "
                "and must be `async def`"
            )
        if instant and not inline:
            raise HubError(f"node type {name!r}: only an inline type can be instant")
        (registry or _REGISTRY).add(
            NodeType(
                name=name,
                run=fn,
                parameters=parameters,
                inline=inline,
                isolated=isolated,
                family=family,
                ports=ports,
                port_of=port_of,
                pool=pool or PoolConfig(),
                placement="desktop" if placement == "desktop" else "pool",
                description=" ".join((fn.__doc__ or "").strip().split("\n\n")[0].split()),
                default_timeout_s=default,
                literal=tuple(literal),
                deferred=tuple(deferred),
                blocking=blocking,
                instant=instant,
            )
        )
        return fn

    return register


@functools.cache  # on every attempt's path: a model's fields are looked up once
def parameter_timeout_default(parameters: type[BaseModel]) -> float | None:
    """The default of a ``timeout_s`` field of a parameters model, when it has a numeric one."""
    field = parameters.model_fields.get("timeout_s")
    if field is None or field.default_factory is not None:
        return None
    value = field.default
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def default_registry() -> NodeRegistry:
    """The process-wide registry with the built-in types and every installed plugin."""
    global _plugins_loaded
    if not _plugins_loaded:
        importlib.import_module("hub.nodes._builtin")
        load_plugins()  # a plugin that fails raises here, every time: never a silent gap
        _plugins_loaded = True
    return _REGISTRY


def load_plugins() -> list[str]:
    """Import plugin modules from entry points and ``HUB_NODE_MODULES``; returns their names."""
    loaded: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise HubError(f"node plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        loaded.append(ep.value)
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise HubError(f"node module {module!r} from {PLUGIN_ENV} failed: {exc}") from exc
        loaded.append(module)
    return loaded
