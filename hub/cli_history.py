"""``hub errors`` and ``hub prune``: what keeps failing, and trimming the history.

Both read the store directly, like ``hub ls``: neither needs a running runtime.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.records import utcnow
from hub.settings import hub_home
from hub.views import UsageError

if TYPE_CHECKING:
    from hub.analysis import ErrorPattern
    from hub.store import Store

SECONDS_PER_DAY = 86_400


def _store() -> Store:
    """The store of the running runtime, else the one the environment names."""
    from hub.runtime import read_runtime
    from hub.store import Store, database_url_from_env

    home = hub_home()
    info = read_runtime(home)
    return Store(info.database_url if info else database_url_from_env(home))


def _when(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%SZ")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_errors(args: argparse.Namespace) -> int:
    """Print recurring failures, most frequent first, with what to try."""
    if args.since_hours is not None and args.since_hours <= 0:
        raise UsageError(f"--since-hours must be positive, got {args.since_hours:g}")
    since = None if args.since_hours is None else utcnow() - timedelta(hours=args.since_hours)
    with _store() as store:
        patterns = store.error_patterns(since=since, workflow_id=args.workflow)
    if args.json:
        _print_json([p.model_dump(mode="json") for p in patterns])
    else:
        _print_patterns(patterns, args)
    return 0


def _print_patterns(patterns: list[ErrorPattern], args: argparse.Namespace) -> None:
    scope = "" if args.workflow is None else f" in workflow {args.workflow}"
    if args.since_hours is not None:
        scope += f" in the last {args.since_hours:g} hours"
    if not patterns:
        print(f"no failures recorded{scope}")
        return
    total = sum(p.count for p in patterns)
    kinds = "pattern" if len(patterns) == 1 else "patterns"
    print(f"{total} failure{'' if total == 1 else 's'}{scope}, {len(patterns)} {kinds}:")
    for p in patterns:
        where = f"{p.workflow_id} / {p.node_id}" if p.node_id else f"{p.workflow_id} (execution)"
        print()
        print(f"{p.count:>5}x  {p.category}  {where}")
        if p.count == 1:
            print(f"       at {_when(p.last_seen)}")
        else:
            print(f"       first {_when(p.first_seen)}  last {_when(p.last_seen)}")
        print(f"       {p.pattern}")
        if p.example_message != p.pattern:
            print(f"       e.g. {p.example_message} (execution {p.example_execution_id})")
        else:
            print(f"       latest: execution {p.example_execution_id}")
        for hint in p.suggestions:
            print(f"       - {hint}")


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete old finished executions, then give the freed space back."""
    if args.older_than_days is None and args.keep is None:
        raise UsageError("nothing to prune: give --older-than-days D and/or --keep N")
    if args.older_than_days is not None and args.older_than_days < 0:
        raise UsageError(f"--older-than-days must not be negative, got {args.older_than_days:g}")
    if args.keep is not None and args.keep < 0:
        raise UsageError(f"--keep must not be negative, got {args.keep}")
    max_age_s = None if args.older_than_days is None else args.older_than_days * SECONDS_PER_DAY
    with _store() as store:
        removed = store.prune(max_age_s=max_age_s, max_count=args.keep)
        store.vacuum()
    if args.json:
        _print_json({"removed": removed})
    else:
        print(f"removed {removed} execution{'' if removed == 1 else 's'}")
    return 0


def add_history_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``errors`` and ``prune`` to the ``hub`` subcommands (an argparse subparsers object)."""
    p = sub.add_parser("errors", help="recurring failures, most frequent first, with suggestions")
    p.add_argument("--workflow", help="only failures of this workflow id")
    p.add_argument("--since-hours", type=float, metavar="H", help="only the last H hours")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_errors)

    p = sub.add_parser(
        "prune",
        help="delete finished executions and reclaim their disk space (unfinished ones, and "
        "ones that ended in the last minute, are always kept)",
    )
    p.add_argument(
        "--older-than-days", type=float, metavar="D", help="delete those that ended D+ days ago"
    )
    p.add_argument(
        "--keep", type=int, metavar="N", help="delete all but the newest N finished executions"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prune)
