"""The ``hub`` command line. Scripts read it, so its output and exit codes are a contract:

- exit 0: success (``run``: the execution completed);
- exit 1: the execution failed or was cancelled, or the runtime reported an error;
- exit 2: bad usage (an unknown command or flag, a file that cannot be read, a malformed or
  ambiguous argument, an id that names nothing), an invalid workflow, or invalid inputs (the
  message names the field);
- exit 130: interrupted (Ctrl-C).

``hub validate`` is the exception that proves the rule: it reports on a workflow, so an invalid
one (a file that is not JSON included) is its ordinary answer, exit 1 with the diagnostics; a
file it cannot read is still bad usage, exit 2. With ``--json`` it prints the diagnostics
document on stdout in both cases.

Errors are one line on stderr; ``--debug`` adds the traceback. The table is in README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.cli_breakers import add_breaker_commands, status_line
from hub.cli_clicker import add_clicker_commands
from hub.cli_history import add_history_commands
from hub.cli_lifecycle import add_lifecycle_commands
from hub.cli_nodes import add_node_commands
from hub.cli_ops import add_ops_commands, after_up, ray_tool_lines, ray_tools_json
from hub.cli_triggers import add_trigger_commands
from hub.cli_triggers import status_line as triggers_status_line
from hub.errors import HubError, InputsInvalid, InvalidRequest, NotFound, WorkflowInvalid
from hub.settings import hub_home
from hub.views import UsageError, detail_json, execution_json, parse_inputs

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _history() -> Any:
    """The store, read directly: history needs no running runtime."""
    from hub.runtime import read_runtime
    from hub.store import Store, database_url_from_env

    home = hub_home()
    info = read_runtime(home)
    return Store(info.database_url if info else database_url_from_env(home))


# --- commands ---------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from hub.client import Client
    from hub.compiler import Diagnostic

    try:
        result = Client.validate(args.file)
    except InvalidRequest as exc:
        if not args.json:
            raise
        # --json answers with a diagnostics document whatever the input; the exit code says
        # the file could not be read at all (bad usage), not that the workflow is invalid.
        unreadable = Diagnostic("error", "unreadable_file", str(exc), "")
        _print_json({"ok": False, "diagnostics": [unreadable.to_dict()]})
        _report(exc, args.debug)
        return EXIT_USAGE
    if args.json:
        _print_json({"ok": result.ok, "diagnostics": [d.to_dict() for d in result.diagnostics]})
    else:
        from hub.console import print_diagnostics

        print_diagnostics(args.file, result.diagnostics, ok=result.ok)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_register(args: argparse.Namespace) -> int:
    import hub
    from hub.client import load_document
    from hub.compiler import compile_workflow

    doc = load_document(args.file)  # a bad file fails here, before any runtime starts
    compile_workflow(doc).raise_for_errors()
    with hub.connect() as client:
        record = client.register(doc)
    if args.json:
        _print_json(record.model_dump(mode="json", exclude={"definition"}))
    else:
        print(f"registered {record.id} version {record.version}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import hub
    from hub.client import precheck
    from hub.console import RunDisplay

    inputs = parse_inputs(args.input or [], args.inputs)
    precheck(args.workflow, inputs)
    debug = bool(args.debug_run or args.breakpoints)
    if (args.json or args.no_wait) and not debug:
        with hub.connect() as client:
            record = client.run(
                args.workflow,
                inputs,
                version=args.version,
                wait=not args.no_wait,
                idempotency_key=args.idempotency_key,
                trigger="cli",
            )
        if args.json:
            _print_json(execution_json(record))
        else:
            print(record.id)
        return EXIT_OK if args.no_wait or record.status.value == "completed" else EXIT_FAILED
    display = RunDisplay()
    display.starting()
    # An embedded runtime serves the API only for a run that lasts (or a debug run): a short
    # run does not wait the seconds Serve takes to start. It fires no stored triggers either
    # (no schedules, no queue consumers): it exists for this one run.
    with hub.connect(serve_api="lazy", triggers=False) as client:
        display.connected(client)
        record = client.run(
            args.workflow,
            inputs,
            version=args.version,
            wait=False,
            idempotency_key=args.idempotency_key,
            trigger="cli",
            debug=debug,
            breakpoints=args.breakpoints or [],
        )
        display.started(record)
        api = LazyApi(client, display, record.id, after_s=0 if debug else LAZY_API_AFTER_S)
        if debug:
            from hub.cli_lifecycle import run_debugger

            final = run_debugger(client, record, sys.stdin, display)
        else:
            for event in client.watch(record.id):
                display.event(event)
            final = client.wait(record.id)
            display.finished(final)
        api.cancel()
    return EXIT_OK if final.status.value == "completed" else EXIT_FAILED


LAZY_API_AFTER_S = 2.0


class LazyApi:
    """Starts an embedded runtime's HTTP API on a thread ``after_s`` into the run, unless the
    run ended first, and prints where to watch it once it is up."""

    def __init__(self, client: Any, display: Any, execution_id: str, after_s: float) -> None:
        self.client, self.display, self.execution_id = client, display, execution_id
        self.done = threading.Event()
        if client.embedded and client.api_url is None:
            threading.Thread(target=self._start, args=(after_s,), daemon=True).start()

    def _start(self, after_s: float) -> None:
        if self.done.wait(after_s):
            return
        try:
            self.client.start_api()
        except Exception:  # the run ended and the runtime stopped under it: nothing to show
            return
        if not self.done.is_set():
            self.display.api_ready(self.client, self.execution_id)

    def cancel(self) -> None:
        self.done.set()


def cmd_up(args: argparse.Namespace) -> int:
    from hub.auth import load_or_create_token, token_path
    from hub.runtime import console_url, start_background

    started = time.monotonic()
    home = hub_home()
    token, created = load_or_create_token(home)
    info = start_background(
        home,
        address=args.address,
        port=args.port,
        dashboard_port=args.dashboard_port,
        api_host=args.api_host,
        api_port=args.api_port,
        desktop=args.desktop,
    )
    after_up(info)
    if args.json:
        shown = {"api_token": token} if created else {}
        _print_json(
            {
                **info.model_dump(mode="json"),
                "api_token_file": str(token_path(home)),
                **shown,
                **ray_tools_json(info),
            }
        )
        return EXIT_OK
    print(f"runtime up in {time.monotonic() - started:.1f}s")
    joined = " (joined; hub down leaves Ray running)" if info.pid is None else ""
    print(f"  ray address : {info.address}{joined}")
    print(f"  dashboard   : {info.dashboard_url}")
    for line in ray_tool_lines(info):
        print(line)
    print(f"  http api    : {info.api_url}  (docs: {info.api_url}/docs)")
    print(f"  web console : {console_url(info.api_url)}  (sign in with the api token)")
    if created:
        print(f"  api token   : {token}")
        print(f"                shown once; kept in {token_path(home)} (mode 0600)")
    else:
        print(f"  api token   : in {token_path(home)}")
    print(f"  history     : {info.database_url}")
    print(f"  logs        : {Path(info.home) / 'logs'}")
    print("stop it with: hub down")
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    from hub.runtime import stop_background

    info = stop_background(hub_home(), cancel_runs=args.cancel_runs)
    print("runtime stopped" if info else "no runtime was running")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from hub.cluster_view import describe
    from hub.ray_access import cli_hint
    from hub.runtime import read_runtime

    home = hub_home()
    info = read_runtime(home)
    data: dict[str, Any] = {"up": info is not None, "home": str(home)}
    if info is not None:
        import hub

        data |= {"address": info.address, **hub.connect().status(), **ray_tools_json(info)}
    if args.json:
        _print_json(data)
    elif info is None:
        print(f"no runtime is running (HUB_HOME={home}); start one with: hub up")
    else:
        print(f"runtime at {data['address']}  dashboard {data['dashboard_url']}")
        print(f"  dashboard: {data['ray_sign_in']}")
        if data["prometheus_url"]:
            print(f"  prometheus: {data['prometheus_url']}")
        print(f"  ray cli: {cli_hint()}")
        print(
            f"  executions: {data['running']} running, {data['queued']} queued, "
            f"{data.get('sleeping', 0)} sleeping (limit {data['max_concurrent_executions']})"
        )
        actors = data["execution_actors"]
        print(
            f"  execution actors: {actors['warm']} warm, {actors['busy']} busy, "
            f"{actors['created']} created"
            + (
                f"; {actors['shared']} shared carrying {actors['shared_runs']} runs"
                if actors.get("shared")
                else ""
            )
        )
        if data.get("recovered"):
            done = {"requeue": "requeued", "resume": "resumed", "fail": "failed"}
            counts = ", ".join(
                f"{n} {done.get(kind, kind)}" for kind, n in sorted(data["recovered"].items())
            )
            print(f"  recovered at start: {counts}")
        pools = ", ".join(f"{t} {n}" for t, n in sorted(data["node_pools"].items()))
        print(f"  node pools: {pools or 'none yet'}")
        desktop = data.get("desktop")
        if not desktop:
            where = "not started (starts with the first desktop node or clicker session)"
        elif "unavailable" in desktop:
            where = desktop["unavailable"]
        else:
            where = f"node {desktop['node_id'][:12]}, DISPLAY={desktop['display']}"
        print(f"  desktop: {where}")
        print(status_line(data.get("breakers")))
        print(triggers_status_line(data.get("triggers")))
        recorder = data["placement"].get("recorder")
        print(
            f"  history: {data['database_url']}"
            + (f" (recorder on node {recorder[:12]})" if recorder else "")
        )
        alive = [n for n in data["nodes"] if n["alive"]]
        print(f"  ray nodes: {len(alive)} alive")
        for line in describe(data["nodes"]):
            print(f"    {line}")
        if data.get("placement_unknown"):
            print(f"  where actors live: unknown ({data['placement_unknown']})")
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    from hub.console import print_executions

    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    with _history() as store:
        if args.trigger is None:
            records = store.list_executions(
                status=args.status, workflow_id=args.workflow, limit=args.limit
            )
        else:
            from hub.history import ExecutionQuery

            query = ExecutionQuery(
                status=[args.status] if args.status else [],
                workflow_id=args.workflow,
                trigger=args.trigger,
                limit=min(args.limit, 1000),
            )
            records = store.search_executions(query).items
    if args.json:
        _print_json([execution_json(r) for r in records])
    else:
        print_executions(records)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from hub.console import print_execution
    from hub.history import ExecutionQuery

    with _history() as store:
        record = store.get_execution(args.id)
        # Sub-workflows it started (their parent_id is this execution; retries too).
        children = store.search_executions(ExecutionQuery(parent_id=record.id, limit=1000)).items
    if args.json:
        _print_json(detail_json(record, children))
    else:
        print_execution(record, children)
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    from hub.console import print_log

    with _history() as store:
        execution_id = store.get_execution(args.id).id
        seq = 0
        while True:
            for entry in store.logs(execution_id, after_seq=seq, level=args.level):
                seq = entry.seq
                print_log(entry)
            if not args.follow or store.get_execution(execution_id).status.terminal:
                return EXIT_OK
            time.sleep(0.5)


def cmd_cancel(args: argparse.Namespace) -> int:
    from hub.cli_lifecycle import background_client

    with background_client() as client:
        record = client.cancel(args.id)
    print(f"{record.id} {record.status.value}")
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every usage error here
        self.exit(
            EXIT_USAGE,
            f"hub: error: {message} (see hub {self.prog.split()[-1]} --help)\n"
            if " " in self.prog
            else f"hub: error: {message}\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hub", description="Runtime Hub: durable JSON workflows on Ray.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("validate", help="check a workflow file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("register", help="register a workflow file (a new version)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("run", help="run a workflow file or a registered workflow id")
    p.add_argument("workflow", help="a workflow file (registered first) or a workflow id")
    p.add_argument("--version", help="which version of a registered workflow (default: latest)")
    p.add_argument(
        "-i",
        "--input",
        action="append",
        metavar="KEY=VALUE",
        help="one input; VALUE is parsed as JSON when it can be, else a string",
    )
    p.add_argument("--inputs", metavar="JSON", help="all inputs as a JSON object")
    p.add_argument("--json", action="store_true", help="print the execution record as JSON")
    p.add_argument("--no-wait", action="store_true", help="print the execution id and return")
    p.add_argument("--idempotency-key", help="a second run with the same key returns the first")
    p.add_argument(
        "--debug",
        dest="debug_run",
        action="store_true",
        help="debug run: pause at breakpoints (or before the first step) and open a prompt",
    )
    p.add_argument(
        "--break",
        dest="breakpoints",
        action="append",
        metavar="NODE[:CONDITION]",
        help="pause before NODE (when CONDITION, an expression, is true); implies --debug",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("up", help="start a background runtime")
    p.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="join the Ray cluster there (say, one `ray up` started) instead of starting a "
        "Ray head; `hub down` then leaves Ray running",
    )
    p.add_argument(
        "--port", type=int, default=6380, help="Ray GCS port of the head it starts (default 6380)"
    )
    p.add_argument("--dashboard-port", type=int, default=8265)
    p.add_argument("--api-port", type=int, default=8000, help="HTTP API port (default 8000)")
    p.add_argument(
        "--api-host",
        default="127.0.0.1",
        help="address the HTTP API binds (default loopback; 0.0.0.0 exposes it)",
    )
    p.add_argument(
        "--desktop",
        action="store_true",
        help="this machine's display may be driven (advertises the desktop resource)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser(
        "down",
        help="stop the background runtime (unfinished runs resume at the next hub up)",
    )
    p.add_argument(
        "--cancel-runs", action="store_true", help="cancel unfinished runs instead of keeping them"
    )
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="show the background runtime")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    add_node_commands(sub)

    p = sub.add_parser("ls", help="list executions, newest first")
    p.add_argument(
        "--status", choices=["queued", "running", "paused", "completed", "failed", "cancelled"]
    )
    p.add_argument("--workflow", help="only executions of this workflow id")
    p.add_argument(
        "--trigger",
        help="only executions started so: schedule, webhook, amqp, startup (or cli, api...)",
    )
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("show", help="show one execution (an id or a unique prefix)")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("logs", help="print an execution's logs")
    p.add_argument("id")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    p.add_argument("--level", choices=["debug", "info", "warn", "error"])
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("cancel", help="cancel a queued, running or paused execution")
    p.add_argument("id")
    p.set_defaults(func=cmd_cancel)

    add_clicker_commands(sub)
    add_breaker_commands(sub)
    add_history_commands(sub)
    add_lifecycle_commands(sub)
    add_trigger_commands(sub)
    add_ops_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("hub: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`hub nodes | head`): not an error. Point stdout at
        # /dev/null so the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (WorkflowInvalid, InputsInvalid, InvalidRequest, NotFound, UsageError) as exc:
        _report(exc, args.debug)
        return EXIT_USAGE
    except (HubError, TimeoutError, OSError) as exc:
        _report(exc, args.debug)
        return EXIT_FAILED
    except Exception as exc:  # a bug: still one line, the traceback on request
        if args.debug:
            traceback.print_exception(exc)
        print(
            f"hub: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    print(f"hub: error: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
