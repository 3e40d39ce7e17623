"""Lifecycle commands (``pause``, ``resume``, ``retry``, ``skip``, ``rerun``) and the
interactive debugger behind ``hub run --debug``.

The debugger prompt reads one command a line: ``step`` (``s``), ``continue`` (``c``),
``eval EXPR`` (``e``/``p``), ``inspect`` (``i``), ``break NODE[:CONDITION]`` (``b``), ``help``,
``quit`` (``q``: cancels the run). End of input is ``quit``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from hub.records import DebugView, ExecutionRecord
from hub.views import UsageError, execution_json, parse_inputs

PROMPT = "(hub-debug) "
HELP = (
    "commands: step (s) | continue (c) | eval EXPR (e, p) | inspect (i) | "
    "break NODE[:CONDITION] (b) | quit (q: cancels the run)"
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def describe_hold(view: DebugView) -> list[str]:
    """What a paused run shows: where and why it holds, and what would run next."""
    where = f" before {view.hold_node}" if view.hold_node else ""
    lines = [f"paused{where} ({view.hold_reason or 'pause'})"]
    if view.detail:
        lines.append(f"  {view.detail}")
    for step in view.next:
        lines.append(
            f"  next: {step.node_id} ({step.node_type}) parameters: {_json(step.parameters)}"
        )
    return lines


class Debugger:
    """The prompt loop; ``client`` is a hub.Client, ``read``/``write`` are the terminal."""

    def __init__(
        self,
        client: Any,
        execution_id: str,
        *,
        read: Callable[[], str],
        write: Callable[[str], None],
        show_event: Callable[[Any], None],
    ) -> None:
        self.client = client
        self.execution_id = execution_id
        self.read = read
        self.write = write
        self.show_event = show_event
        self.seq = 0

    def events_until_hold(self) -> bool:
        """Show events until the run pauses (True) or ends (False)."""
        for event in self.client.watch(self.execution_id, after_seq=self.seq):
            self.seq = event.seq
            self.show_event(event)
            if event.type == "paused":
                return True
        return False

    def loop(self) -> ExecutionRecord:
        while self.events_until_hold():
            for line in describe_hold(self.client.inspect(self.execution_id)):
                self.write(line)
            if not self.prompt():
                return self.client.cancel(self.execution_id, "quit from the debugger")  # type: ignore[no-any-return]
        return self.client.wait(self.execution_id)  # type: ignore[no-any-return]

    def prompt(self) -> bool:
        """Read commands until one lets the run go on (True) or quits (False)."""
        while True:
            try:
                line = self.read().strip()
            except EOFError:
                return False
            command, _, rest = line.partition(" ")
            if command in ("s", "step"):
                self.client.step(self.execution_id)
                return True
            if command in ("c", "continue"):
                self.client.continue_(self.execution_id)
                return True
            if command in ("q", "quit", "exit"):
                return False
            self.answer(command, rest.strip())

    def answer(self, command: str, rest: str) -> None:
        from hub.errors import HubError

        try:
            if command in ("e", "p", "eval", "print"):
                self.write(_json(self.client.evaluate(self.execution_id, rest)))
            elif command in ("i", "inspect"):
                view = self.client.inspect(self.execution_id)
                self.write(f"inputs: {_json(view.inputs)}")
                for node_id, output in view.outputs.items():
                    self.write(f"  ${node_id} = {_json(output)}")
                self.write(f"next: {', '.join(s.node_id for s in view.next) or '-'}")
                shown = [
                    b.node_id + (f":{b.condition}" if b.condition else "") for b in view.breakpoints
                ]
                self.write(f"breakpoints: {', '.join(shown) or '-'}")
            elif command in ("b", "break"):
                current = self.client.inspect(self.execution_id).breakpoints
                self.client.set_breakpoints(self.execution_id, [*current, rest])
                self.write(f"breakpoint set on {rest}")
            elif command in ("", "h", "help", "?"):
                self.write(HELP)
            else:
                self.write(f"unknown command {command!r}; {HELP}")
        except HubError as exc:
            self.write(f"error: {exc}")


def run_debugger(
    client: Any, record: ExecutionRecord, stdin: TextIO, display: Any
) -> ExecutionRecord:
    """The prompt loop on a terminal; ``display`` is the run's hub.console.RunDisplay."""
    from hub.console import out

    def read() -> str:
        out.print(PROMPT, end="")
        line = stdin.readline()
        if not line:
            raise EOFError
        if not stdin.isatty():  # echo scripted input, so a transcript reads like a session
            out.print(line.rstrip("\n"), markup=False, highlight=False)
        return line

    def write(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    debugger = Debugger(client, record.id, read=read, write=write, show_event=display.event)
    final = debugger.loop()
    display.finished(final)
    return final


# --- commands ---------------------------------------------------------------------------------


@contextlib.contextmanager
def background_client() -> Iterator[Any]:
    """A client of the background runtime (``hub up``); lifecycle commands need one."""
    import hub
    from hub.errors import HubError
    from hub.runtime import read_runtime
    from hub.settings import hub_home

    if read_runtime(hub_home()) is None:
        raise HubError(
            "no runtime is running (start one with: hub up); "
            "runs of an embedded runtime end with the command that started them"
        )
    with hub.connect() as client:
        yield client


def _finish(args: argparse.Namespace, record: ExecutionRecord) -> int:
    if args.json:
        print(json.dumps(execution_json(record), indent=2, default=str))
    else:
        origin = record.settings.get("origin", {}).get("kind")
        via = f" ({origin} of {record.parent_id})" if record.parent_id else ""
        print(f"{record.id} {record.status.value}{via}")
    return 0 if record.status.value in ("completed", "queued", "running", "paused") else 1


def cmd_control(args: argparse.Namespace) -> int:
    with background_client() as client:
        view: DebugView = getattr(client, args.action)(args.id)
        if args.action == "pause" and view.status.value != "paused":
            view = client.inspect(args.id)
        print(f"{view.execution_id} {view.status.value}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    # Every argument is checked before the runtime is asked: bad usage is exit 2 even with
    # no runtime up.
    inputs = parse_inputs(args.input or [], args.inputs)
    output: Any = None
    if args.command == "skip":
        try:
            output = json.loads(args.output)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--output is not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
    override = args.command == "retry" and bool(args.set or args.parameters)
    parameters = parse_inputs(args.set or [], args.parameters) if override else {}
    with background_client() as client:
        wait = not args.no_wait
        if args.command == "rerun":
            record = client.rerun(args.id, inputs=inputs or None, wait=wait)
        elif args.command == "skip":
            record = client.skip_step(args.id, args.step, output, inputs=inputs or None, wait=wait)
        elif override:
            record = client.retry_step(
                args.id, args.step, parameters, inputs=inputs or None, wait=wait
            )
        else:
            if args.step:
                record = client.retry_step(args.id, args.step, {}, inputs=inputs or None, wait=wait)
            else:
                record = client.retry(args.id, inputs=inputs or None, wait=wait)
    return _finish(args, record)


def add_lifecycle_commands(sub: Any) -> None:
    for action, text in (
        ("pause", "pause a running execution (steps in flight finish, nothing new starts)"),
        ("resume", "resume a paused execution"),
    ):
        p = sub.add_parser(action, help=text)
        p.add_argument("id")
        p.set_defaults(func=cmd_control, action=action)

    def inputs(p: argparse.ArgumentParser) -> None:
        p.add_argument("-i", "--input", action="append", metavar="KEY=VALUE", help="an input")
        p.add_argument("--inputs", metavar="JSON", help="inputs as a JSON object")
        p.add_argument("--no-wait", action="store_true", help="print the new id and return")
        p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "retry", help="retry a failed execution from its failed step, as a new execution"
    )
    p.add_argument("id")
    p.add_argument("--step", help="the step to retry (default: the one that failed)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a parameter of the step"
    )
    p.add_argument("--parameters", metavar="JSON", help="override parameters (a JSON object)")
    inputs(p)
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("skip", help="go on past a failed step with a substitute output")
    p.add_argument("id")
    p.add_argument("step", nargs="?", help="the failed step (default: the one that failed)")
    p.add_argument("--output", default="null", help="the step's substitute output (JSON)")
    inputs(p)
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("rerun", help="run an execution again with the same inputs")
    p.add_argument("id")
    inputs(p)
    p.set_defaults(func=cmd_retry)
