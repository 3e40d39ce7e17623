"""``hub nodes``: the node types a runtime offers (built-in and plugins), where each runs,
whether its family is enabled, and (``hub nodes TYPE``) its parameters' JSON Schema.

With a background runtime up, it answers for that runtime (its plugins and settings); without
one, for a runtime this environment would start (``HUB_NODE_MODULES``, ``HUB_ENABLE_*``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hub.nodes import NodeTypeInfo, UnknownNodeType, catalogue, default_registry
from hub.views import UsageError


def _catalogue() -> tuple[list[NodeTypeInfo], str]:
    from hub.runtime import read_runtime
    from hub.settings import hub_home, settings_from_env

    if read_runtime(hub_home()) is not None:
        import hub

        return hub.connect().node_types(), "the running runtime"
    families = settings_from_env().enabled_families()
    return catalogue(
        default_registry(), families
    ), "no runtime is running: as this environment would start one"


def _where(info: NodeTypeInfo) -> str:
    if info.pool is None:
        return info.runs_in
    return f"{info.runs_in} ({info.pool.min_size}-{info.pool.max_size})"


def cmd_nodes(args: argparse.Namespace) -> int:
    types, source = _catalogue()
    if args.type:
        found = {t.name: t for t in types}
        if args.type not in found:
            try:
                default_registry().get(args.type)  # its "did you mean ...?"
            except UnknownNodeType as exc:
                raise UsageError(f"{exc}; `hub nodes` lists them") from None
            raise UsageError(f"the runtime has no node type {args.type!r}")
        info = found[args.type]
        if args.json:
            print(json.dumps(info.model_dump(mode="json"), indent=2))
            return 0
        print(f"{info.name}: {info.description}")
        print(f"  runs in: {_where(info)}{'  isolated' if info.isolated else ''}")
        gate = f"family {info.family}, " if info.family else ""
        print(f"  {gate}{'enabled' if info.enabled else 'DISABLED'} ({source})")
        print(f"  default timeout: {info.default_timeout_s or 'none'}")
        if info.literal_parameters:
            print(f"  literal parameters: {', '.join(info.literal_parameters)}")
        print("  parameters (JSON Schema):")
        print("    " + json.dumps(info.parameters_schema, indent=2).replace("\n", "\n    "))
        return 0
    if args.json:
        print(json.dumps([t.model_dump(mode="json") for t in types], indent=2))
        return 0
    print(f"{len(types)} node types ({source})")
    width = max(len(t.name) for t in types)
    for info in types:
        state = "" if info.enabled else f"  [disabled: {info.family}]"
        print(f"  {info.name:<{width}}  {_where(info):<22}  {info.description}{state}")
    return 0


def add_node_commands(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("nodes", help="list the node types (or show one's parameters)")
    p.add_argument("type", nargs="?", help="a node type: show its parameters' JSON Schema")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_nodes)
