"""``hub breakers ls`` and ``hub breakers reset``: the runtime's circuit breakers (hub.breakers).

Both need the background runtime (``hub up``); they ask its BreakerActor, which exists once a
workflow with breakers on has run (before that there are none to list or reset).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from hub.breakers import BREAKERS_NAME, BreakerState, BreakerView
from hub.errors import NotFound
from hub.views import UsageError


def _board() -> Any | None:
    import ray

    from hub.runtime import NAMESPACE

    try:
        return ray.get_actor(BREAKERS_NAME, namespace=NAMESPACE)
    except ValueError:
        return None


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def describe(view: BreakerView) -> str:
    """One breaker on one line: key, state, failures within its window, when it probes."""
    settings = view.settings
    line = (
        f"{view.key}  {view.state.value}  "
        f"{view.failures}/{settings.failure_threshold} failures in {settings.window_s:g}s"
    )
    if view.state == BreakerState.OPEN:
        line += f"  probe at {_when(view.probe_at)}"
    elif view.state == BreakerState.HALF_OPEN:
        line += f"  {view.probes_in_flight}/{settings.half_open_max_calls} probes in flight"
    if view.last_error and view.state != BreakerState.CLOSED:
        line += f"  last error: {view.last_error[:120]}"
    return line


def status_line(summary: dict[str, Any] | None) -> str:
    """The breakers' line of ``hub status``."""
    if not summary:
        return "  breakers: none"
    if "unavailable" in summary:
        return f"  breakers: {summary['unavailable']}"
    line = (
        f"  breakers: {summary.get('open', 0)} open, {summary.get('half_open', 0)} half-open, "
        f"{summary.get('closed', 0)} closed"
    )
    if summary.get("open_keys"):
        line += f" (open: {', '.join(summary['open_keys'])})"
    return line


def cmd_breakers_ls(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client
    from hub.client import _call

    with background_client():
        board = _board()
        views: list[BreakerView] = [] if board is None else _call(board.breakers.remote(), 60)
    if args.json:
        print(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
    elif not views:
        print("no circuit breakers yet (a workflow turns them on with settings.circuit_breaker)")
    else:
        for view in views:
            print(describe(view))
    return 0


def cmd_breakers_reset(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client
    from hub.client import _call

    if bool(args.key) == args.all:
        raise UsageError("give a breaker KEY or --all (hub breakers ls lists the keys)")
    with background_client():
        board = _board()
        if args.all:
            reset: list[str] = [] if board is None else _call(board.reset_all.remote(), 60)
            print(f"closed {len(reset)} breakers" + (f": {', '.join(reset)}" if reset else ""))
            return 0
        if board is None:
            raise NotFound(f"no circuit breaker {args.key!r}; hub breakers ls lists them")
        view: BreakerView = _call(board.reset.remote(args.key), 60)
    print(describe(view))
    return 0


def add_breaker_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``breakers ls`` and ``breakers reset`` to the ``hub`` subcommands."""
    breakers = sub.add_parser("breakers", help="the runtime's circuit breakers")
    commands = breakers.add_subparsers(dest="breakers_command", required=True)
    p = commands.add_parser("ls", help="list the circuit breakers and their states")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_breakers_ls)
    p = commands.add_parser("reset", help="close a circuit breaker now (or every one)")
    p.add_argument("key", nargs="?", help="the breaker's key, as hub breakers ls shows it")
    p.add_argument("--all", action="store_true", help="close every breaker")
    p.set_defaults(func=cmd_breakers_reset)
