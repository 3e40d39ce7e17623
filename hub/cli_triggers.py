"""``hub triggers ls|enable|disable|fire``: the triggers of the registered workflows.

Each asks the background runtime's TriggerActor (``hub up``), through the client. Arguments
(``--body``) are checked before the runtime is asked; a workflow or trigger that names nothing
is bad usage (exit 2), like an execution id that names nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidRequest
from hub.triggers import TriggerInputError
from hub.views import UsageError, execution_json

if TYPE_CHECKING:
    from hub.triggers._state import TriggerView

ERROR_WIDTH = 60  # the last error is cut to this in the table; --json has all of it
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def when(moment: datetime | str | None, now: datetime) -> str:
    """A time as a person reads it: ``12:00:04Z (in 2s)``, the date too when not today."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    moment = moment.astimezone(UTC)
    shown = moment.strftime("%H:%M:%SZ" if moment.date() == now.date() else "%Y-%m-%d %H:%M:%SZ")
    return f"{shown} ({_relative((moment - now).total_seconds())})"


def _relative(delta_s: float) -> str:
    ahead, size = delta_s >= 0, abs(delta_s)
    if size < 1:
        return "now"
    unit, seconds = next((u, s) for u, s in _UNITS if size >= s)
    amount = f"{int(size // seconds)}{unit}"
    return f"in {amount}" if ahead else f"{amount} ago"


def _problem(view: TriggerView) -> str:
    parts = []
    if view.breaker and view.breaker != "closed":
        parts.append(f"breaker {view.breaker}")
    if view.last_error:
        error = " ".join(view.last_error.split())
        parts.append(error if len(error) <= ERROR_WIDTH else error[: ERROR_WIDTH - 1] + "…")
    return "; ".join(parts) or "-"


def table(views: Sequence[TriggerView], now: datetime) -> list[str]:
    """The lines of ``hub triggers ls``: a header and a row per trigger, in aligned columns
    (plain text: a script may cut it, and no terminal width folds it)."""
    header = (
        "workflow",
        "trigger",
        "type",
        "state",
        "next fire",
        "last fire",
        "fires",
        "skipped",
        "last error/breaker",
    )
    rows = [header] + [
        (
            v.workflow_id,
            v.trigger_id,
            v.type,
            v.state,
            when(v.next_fire_at, now),
            when(v.last_fired_at, now),
            str(v.fires),
            str(v.skipped),
            _problem(v),
        )
        for v in views
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    widths.append(0)  # the last column is not padded
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def status_line(summary: dict[str, Any] | None, now: datetime | None = None) -> str:
    """The triggers' lines of ``hub status`` (``TriggerActor.summary()``)."""
    if not summary:
        return "  triggers: none"
    if "unavailable" in summary:
        return f"  triggers: {summary['unavailable']}"
    total = int(summary.get("total", 0))
    if total == 0:
        return "  triggers: none (a workflow declares them in its 'triggers')"
    states = ", ".join(f"{n} {state}" for state, n in sorted(summary.get("by_state", {}).items()))
    line = f"  triggers: {total} ({states})"
    if summary.get("next_fire_at"):
        line += f"; next fire {when(summary['next_fire_at'], now or datetime.now(UTC))}"
    for error in summary.get("errors", []):
        line += f"\n    error: {error}"
    return line


def _parse_body(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


# --- commands ---------------------------------------------------------------------------------


def cmd_triggers_ls(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client

    with background_client() as client:
        views = client.triggers(args.workflow)
    if args.json:
        _print_json([v.model_dump(mode="json") for v in views])
    elif not views:
        scope = f" in workflow {args.workflow}" if args.workflow else ""
        print(f"no triggers{scope} (a workflow declares them in its 'triggers')")
    else:
        for line in table(views, datetime.now(UTC)):
            print(line)
    return 0


def cmd_triggers_switch(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client

    with background_client() as client:
        if args.enable:
            view = client.enable_trigger(args.workflow, args.trigger)
        else:
            view = client.disable_trigger(args.workflow, args.trigger)
    if args.json:
        _print_json(view.model_dump(mode="json"))
        return 0
    line = f"{view.workflow_id}/{view.trigger_id} {'enabled' if view.enabled else 'disabled'}"
    if view.next_fire_at is not None:
        line += f"; next fire {when(view.next_fire_at, datetime.now(UTC))}"
    print(line)
    return 0


def cmd_triggers_fire(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client

    body = _parse_body(args.body)  # before the runtime is asked
    with background_client() as client:
        try:
            record = client.fire_trigger(args.workflow, args.trigger, body)
        except TriggerInputError as exc:  # the body given cannot become the inputs: usage
            raise InvalidRequest(exc.message) from None
        if args.wait:
            record = client.wait(record.id)
    if args.json:
        _print_json(execution_json(record))
    elif args.wait:
        print(f"{record.id} {record.status.value}")
    else:
        print(record.id)
    return 0 if not args.wait or record.status.value == "completed" else 1


def add_trigger_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``triggers ls|enable|disable|fire`` to the ``hub`` subcommands."""
    triggers = sub.add_parser(
        "triggers", help="the workflows' triggers: schedules, webhooks, AMQP queues, startup"
    )
    commands = triggers.add_subparsers(dest="triggers_command", required=True)

    p = commands.add_parser("ls", help="list triggers: state, next and last fire, errors")
    p.add_argument("workflow", nargs="?", help="only the triggers of this workflow id")
    p.add_argument("--json", action="store_true", help="the full views, as JSON")
    p.set_defaults(func=cmd_triggers_ls)

    for name, enable, text in (
        ("enable", True, "switch a trigger on (a schedule runs from now on)"),
        ("disable", False, "switch a trigger off (kept across restarts)"),
    ):
        p = commands.add_parser(name, help=text)
        p.add_argument("workflow")
        p.add_argument("trigger")
        p.add_argument("--json", action="store_true", help="the trigger's view, as JSON")
        p.set_defaults(func=cmd_triggers_switch, enable=enable)

    p = commands.add_parser(
        "fire", help="fire a trigger now, enabled or not (a test of its input mapping)"
    )
    p.add_argument("workflow")
    p.add_argument("trigger")
    p.add_argument(
        "--body",
        metavar="JSON",
        help="what a webhook call or a message would carry ($trigger.body)",
    )
    p.add_argument("--wait", action="store_true", help="wait for the execution to end")
    p.add_argument("--json", action="store_true", help="print the execution record as JSON")
    p.set_defaults(func=cmd_triggers_fire)
