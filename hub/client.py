"""The Python client: ``hub.connect()`` and what a script or notebook does with it."""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from hub.analysis import ErrorPattern
from hub.compiler import CompileResult, Diagnostic, compile_workflow
from hub.debugging import parse_breakpoint
from hub.desktop.clicker import ClickerConfig
from hub.errors import HubError, InvalidRequest, RuntimeUnavailable, WorkflowInvalid
from hub.inputs import validate_inputs
from hub.nodes import NodeTypeInfo
from hub.recording import TERMINAL_EVENTS
from hub.records import (
    Breakpoint,
    DebugView,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    LogEntry,
    RunOptions,
    WorkflowRecord,
)
from hub.runtime import Connection, attach
from hub.triggers._state import TriggerView

WorkflowRef = str | Path | dict[str, Any]


def load_document(source: str | Path) -> dict[str, Any]:
    """Read a workflow file (JSON; YAML when PyYAML is installed and the name says .yaml).

    A file that cannot be read is a bad argument (InvalidRequest); one that is not a JSON
    object is an invalid workflow (WorkflowInvalid, diagnostic ``invalid_json``,
    ``invalid_yaml`` or ``invalid_document``)."""
    path = Path(source)
    yaml_file = path.suffix in (".yaml", ".yml")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidRequest(
            f"cannot read workflow file {path}: {exc.strerror}", details={"path": str(path)}
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise _not_a_workflow(
            path,
            "invalid_yaml" if yaml_file else "invalid_json",
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} (line {line}, column {column})",
        ) from None
    if yaml_file:
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise HubError("reading YAML workflows needs PyYAML (pip install pyyaml)") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or "cannot be parsed"
            raise _not_a_workflow(
                path, "invalid_yaml", f"not valid YAML: {problem}{where}"
            ) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _not_a_workflow(
                path,
                "invalid_json",
                f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            ) from None
    if not isinstance(data, dict):
        raise _not_a_workflow(path, "invalid_document", "a workflow must be a JSON object")
    return data


def _not_a_workflow(path: Path, code: str, message: str) -> WorkflowInvalid:
    diagnostic = Diagnostic("error", code, message, "")
    return WorkflowInvalid(f"{path}: {message}", diagnostics=[diagnostic.to_dict()])


def _call(ref: Any, timeout_s: float | None = None) -> Any:
    """Wait for an actor call; the one place Ray errors become HubErrors on the client side."""
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

    try:
        return ray.get(ref, timeout=timeout_s)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, HubError):
            raise cause from None
        raise RuntimeUnavailable(f"runtime error: {cause or exc}") from None
    except RayActorError as exc:
        raise RuntimeUnavailable(f"a runtime actor is gone: {exc}") from None
    except GetTimeoutError:
        raise TimeoutError(f"no answer from the runtime within {timeout_s}s") from None


class Client:
    """A connection to a runtime: register and run workflows, read history, follow events."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    @property
    def embedded(self) -> bool:
        """True when this process started the runtime (it stops when the process ends)."""
        return self._conn.embedded

    @property
    def dashboard_url(self) -> str | None:
        return self._conn.dashboard_url

    @property
    def api_url(self) -> str | None:
        """The HTTP API's base URL (``…/api/v1``), when this runtime serves it."""
        return self._conn.api_url

    def start_api(self) -> str | None:
        """Serve the HTTP API of an embedded runtime connected with ``serve_api="lazy"`` (a few
        seconds); its base URL, also in ``api_url`` from then on. None when there is no API to
        start. Safe from a thread of its own."""
        start, self._conn.start_api = self._conn.start_api, None
        if start is not None:
            self._conn.api_url = start()
        return self._conn.api_url

    @property
    def console_url(self) -> str | None:
        """The web console's address (``.../ui``), where the API is served."""
        from hub.runtime import console_url

        return console_url(self.api_url)

    @property
    def database_url(self) -> str:
        return self._conn.database_url

    # --- workflows --------------------------------------------------------------------------

    @staticmethod
    def validate(workflow: WorkflowRef) -> CompileResult:
        """Compile without registering; never raises for a bad document (a file that is not
        JSON gives an ``invalid_json`` diagnostic), only for a file it cannot read."""
        try:
            doc = workflow if isinstance(workflow, dict) else load_document(workflow)
        except WorkflowInvalid as exc:
            return CompileResult([Diagnostic(**d) for d in exc.diagnostics])
        return compile_workflow(doc)

    def register(self, workflow: WorkflowRef) -> WorkflowRecord:
        doc = workflow if isinstance(workflow, dict) else load_document(workflow)
        compile_workflow(doc).raise_for_errors()  # fail fast, before a round trip
        record: WorkflowRecord = _call(self._conn.supervisor.register.remote(doc))
        return record

    def workflows(self) -> list[WorkflowRecord]:
        result: list[WorkflowRecord] = _call(self._conn.recorder.list_workflows.remote())
        return result

    def workflow(self, workflow_id: str, version: str | None = None) -> WorkflowRecord:
        result: WorkflowRecord = _call(
            self._conn.recorder.get_workflow.remote(workflow_id, version)
        )
        return result

    # --- runs -------------------------------------------------------------------------------

    def _workflow_id(self, workflow: WorkflowRef, version: str | None) -> tuple[str, str | None]:
        if isinstance(workflow, dict) or (isinstance(workflow, Path | str) and _is_file(workflow)):
            record = self.register(workflow)
            return record.id, record.version
        return str(workflow), version

    def run(
        self,
        workflow: WorkflowRef,
        inputs: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
        trigger: str = "api",
        timeout_s: float | None = None,
        debug: bool = False,
        breakpoints: Sequence[str | Breakpoint | dict[str, Any]] | None = None,
        execution_timeout_s: float | None = None,
    ) -> ExecutionRecord:
        """Run a workflow (an id, a document, or a file, which is registered first).

        With ``wait`` the finished execution is returned; otherwise the queued or running one.
        ``debug`` / ``breakpoints`` (node ids, or ``{"node_id", "condition"}``) start a debug
        run that pauses before those nodes (or before the first ones); drive it with ``step``,
        ``continue_``, ``evaluate`` and ``inspect``. ``timeout_s`` bounds the wait here;
        ``execution_timeout_s`` overrides the workflow's own ``settings.timeout_s``.
        """
        workflow_id, version = self._workflow_id(workflow, version)
        run_options = RunOptions(
            debug=debug,
            breakpoints=[parse_breakpoint(b) for b in breakpoints or []],
            timeout_s=execution_timeout_s,
        )
        # Chosen here, so a start that Ray repeats (after a supervisor restart) is one run.
        options: dict[str, Any] = {"execution_id": uuid.uuid4().hex}
        # Ray ships each argument apart (serialised, then deserialised by the supervisor): the
        # ones equal to the supervisor's defaults are left out.
        if version is not None:
            options["version"] = version
        if trigger != "api":
            options["trigger"] = trigger
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        if run_options != RunOptions():
            options["options"] = run_options
        method = self._conn.supervisor.run if wait else self._conn.supervisor.submit
        record: ExecutionRecord = _call(
            method.remote(workflow_id, inputs or {}, **options), timeout_s
        )
        return record

    def wait(self, execution_id: str, timeout_s: float | None = None) -> ExecutionRecord:
        record: ExecutionRecord = _call(self._conn.supervisor.wait.remote(execution_id), timeout_s)
        return record

    def cancel(self, execution_id: str, reason: str = "cancelled by user") -> ExecutionRecord:
        """Cancel a queued, running or paused execution; in-flight steps are stopped."""
        full_id = self.get(execution_id).id
        record: ExecutionRecord = _call(self._conn.supervisor.cancel.remote(full_id, reason))
        return record

    # --- lifecycle and debugging ------------------------------------------------------------

    def _control(self, execution_id: str, action: str, argument: Any = None) -> Any:
        full_id = self.get(execution_id).id
        return _call(self._conn.supervisor.control.remote(full_id, action, argument))

    def pause(self, execution_id: str) -> DebugView:
        """Pause: steps in flight finish, nothing new starts (status ``paused`` once idle)."""
        view: DebugView = self._control(execution_id, "pause")
        return view

    def resume(self, execution_id: str) -> DebugView:
        view: DebugView = self._control(execution_id, "resume")
        return view

    def step(self, execution_id: str) -> DebugView:
        """Run the nodes that are ready now, then pause again before the next ones."""
        view: DebugView = self._control(execution_id, "step")
        return view

    def continue_(self, execution_id: str) -> DebugView:
        """Run on until the next breakpoint or the end."""
        view: DebugView = self._control(execution_id, "continue")
        return view

    def evaluate(self, execution_id: str, expression: str) -> Any:
        """The value of an expression (``$input.x``, ``$node.field``...) where the run is."""
        return self._control(execution_id, "evaluate", expression)

    def inspect(self, execution_id: str) -> DebugView:
        """Where a run holds: inputs, outputs so far, the next ready nodes."""
        view: DebugView = self._control(execution_id, "inspect")
        return view

    def set_breakpoints(
        self, execution_id: str, breakpoints: Sequence[str | Breakpoint | dict[str, Any]]
    ) -> None:
        """Replace the breakpoints of a queued, running or paused execution."""
        given = [parse_breakpoint(b).model_dump() for b in breakpoints]
        self._control(execution_id, "set breakpoints", given)

    def wait_until_paused(self, execution_id: str, timeout_s: float = 60) -> ExecutionRecord:
        """Wait until the execution is paused or finished."""
        import time

        full_id = self.get(execution_id).id
        deadline = time.monotonic() + timeout_s
        while True:
            record = self.get(full_id)
            if record.status.terminal or record.status == ExecutionStatus.PAUSED:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {full_id} did not pause within {timeout_s:g}s")
            time.sleep(0.05)

    # --- recovery actions: each makes a new execution linked to the first --------------------

    def _retry(self, execution_id: str, kind: str, wait: bool, **options: Any) -> ExecutionRecord:
        full_id = self.get(execution_id).id
        record: ExecutionRecord = _call(
            self._conn.supervisor.retry.remote(full_id, kind, **options)
        )
        return self.wait(record.id) if wait else record

    def retry(
        self, execution_id: str, *, inputs: dict[str, Any] | None = None, wait: bool = True
    ) -> ExecutionRecord:
        """Retry a failed (or cancelled) execution from its failed step; completed steps are
        reused, not run again. Secret inputs must be passed again (they are never stored)."""
        return self._retry(execution_id, "retry", wait, inputs=inputs)

    def retry_step(
        self,
        execution_id: str,
        node_id: str | None = None,
        parameters: dict[str, Any] | None = None,
        *,
        inputs: dict[str, Any] | None = None,
        wait: bool = True,
    ) -> ExecutionRecord:
        """Retry from the failed step with some of its parameters replaced."""
        return self._retry(
            execution_id,
            "retry_step",
            wait,
            node_id=node_id,
            parameters=parameters or {},
            inputs=inputs,
        )

    def skip_step(
        self,
        execution_id: str,
        node_id: str | None = None,
        output: Any = None,
        *,
        inputs: dict[str, Any] | None = None,
        wait: bool = True,
    ) -> ExecutionRecord:
        """Go on past a failed step as if it had returned ``output``."""
        return self._retry(
            execution_id, "skip_step", wait, node_id=node_id, output=output, inputs=inputs
        )

    def rerun(
        self, execution_id: str, *, inputs: dict[str, Any] | None = None, wait: bool = True
    ) -> ExecutionRecord:
        """Run the same workflow version again with the same inputs, as a new execution."""
        return self._retry(execution_id, "rerun", wait, inputs=inputs)

    # --- history ----------------------------------------------------------------------------

    def get(self, execution_id: str) -> ExecutionRecord:
        record: ExecutionRecord = _call(self._conn.recorder.get_execution.remote(execution_id))
        return record

    def list(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 50,
        trigger: str | None = None,
        parent_id: str | None = None,
    ) -> list[ExecutionRecord]:
        """Executions newest first; ``trigger`` keeps those a trigger type (``schedule``,
        ``webhook``, ``amqp``, ``startup``, ``workflow``) or a caller (``cli``, ``api``)
        started; ``parent_id`` those an execution started (sub-workflows) or derived (retries)."""
        if trigger is not None or parent_id is not None:
            from hub.history import ExecutionQuery

            query = ExecutionQuery(
                status=[] if status is None else [ExecutionStatus(status)],
                workflow_id=workflow_id,
                trigger=trigger,
                parent_id=parent_id,
                limit=min(max(limit, 1), 1000),
            )
            page = _call(self._conn.recorder.search_executions.remote(query))
            found: list[ExecutionRecord] = page.items
            return found
        ref = self._conn.recorder.list_executions.remote(
            status=status, workflow_id=workflow_id, limit=limit
        )
        result: list[ExecutionRecord] = _call(ref)
        return result

    def logs(self, execution_id: str, *, level: str | None = None) -> builtins.list[LogEntry]:
        full_id = self.get(execution_id).id
        result: builtins.list[LogEntry] = _call(
            self._conn.recorder.logs.remote(full_id, level=level)
        )
        return result

    def error_patterns(
        self, *, workflow_id: str | None = None, since: datetime | None = None
    ) -> builtins.list[ErrorPattern]:
        """Recorded failures grouped into patterns (same workflow, node, category and message
        shape), most frequent first, each with recovery suggestions."""
        result: builtins.list[ErrorPattern] = _call(
            self._conn.recorder.error_patterns.remote(since, workflow_id)
        )
        return result

    def prune(self, *, max_age_s: float | None = None, max_count: int | None = None) -> int:
        """Delete finished executions older than ``max_age_s`` or beyond the newest
        ``max_count`` (never unfinished ones); returns how many were deleted."""
        removed: int = _call(self._conn.recorder.prune.remote(max_age_s, max_count))
        return removed

    def watch(
        self, execution_id: str, *, after_seq: int = 0, poll_s: float = 5.0
    ) -> Iterator[Event]:
        """Every event of an execution, live, until its terminal event."""
        seq = after_seq
        over = self.get(execution_id).status.terminal  # an ended run: read, never wait
        while True:
            # Once the execution is over, one last read without waiting: its final events may
            # have landed between the empty poll and the status check.
            events: builtins.list[Event] = _call(
                self._conn.recorder.events.remote(execution_id, seq, 0 if over else poll_s)
            )
            for event in events:
                seq = event.seq
                yield event
                if event.type in TERMINAL_EVENTS:
                    return
            if not events:
                if over:
                    return
                over = self.get(execution_id).status.terminal

    # --- triggers (actors/triggers.py): schedules, webhooks, AMQP queues, startup ------------

    def _triggers(self) -> Any:
        import ray

        from hub.runtime import NAMESPACE, TRIGGERS_NAME

        try:
            return ray.get_actor(TRIGGERS_NAME, namespace=NAMESPACE)
        except ValueError:
            raise RuntimeUnavailable(
                "this runtime has no trigger service (it was started by a version without "
                "triggers): restart it with hub down && hub up"
            ) from None

    def triggers(self, workflow_id: str | None = None) -> builtins.list[TriggerView]:
        """Every trigger of every registered workflow (or of one), with its state, next and
        last fire; an unknown ``workflow_id`` raises NotFound."""
        views: builtins.list[TriggerView] = _call(self._triggers().views.remote(), 60)
        if workflow_id is None:
            return views
        mine = [v for v in views if v.workflow_id == workflow_id]
        if not mine:
            self.workflow(workflow_id)  # NotFound when there is no such workflow
        return mine

    def trigger(self, workflow_id: str, trigger_id: str) -> TriggerView:
        """One trigger's view; NotFound names the triggers there are."""
        for view in self.triggers():
            if (view.workflow_id, view.trigger_id) == (workflow_id, trigger_id):
                return view
        found: TriggerView = _call(self._triggers().view.remote(workflow_id, trigger_id), 60)
        return found

    def enable_trigger(self, workflow_id: str, trigger_id: str) -> TriggerView:
        """Switch a trigger on (kept across restarts); a schedule runs from now on, without
        the slots of the time it was off."""
        return self._switch_trigger(workflow_id, trigger_id, True)

    def disable_trigger(self, workflow_id: str, trigger_id: str) -> TriggerView:
        """Switch a trigger off (kept across restarts, until enabled or the workflow is
        deleted): a schedule stops, a consumer closes, a webhook answers 404."""
        return self._switch_trigger(workflow_id, trigger_id, False)

    def _switch_trigger(self, workflow_id: str, trigger_id: str, enabled: bool) -> TriggerView:
        view: TriggerView = _call(
            self._triggers().set_enabled.remote(workflow_id, trigger_id, enabled), 60
        )
        return view

    def fire_trigger(self, workflow_id: str, trigger_id: str, body: Any = None) -> ExecutionRecord:
        """Fire a trigger now, whether enabled or not (to test its input mapping): ``body``
        plays what a webhook call or a message would carry. The execution records
        ``trigger_info.manual``; it is returned as started (``wait`` follows it)."""
        record: ExecutionRecord = _call(
            self._triggers().fire.remote(workflow_id, trigger_id, body), 60
        )
        return record

    def trigger_summary(self) -> dict[str, Any]:
        """Triggers by state, the next fire, those in error (``hub status``); a JSON value."""
        from pydantic_core import to_jsonable_python

        summary = _call(self._triggers().summary.remote(), 10)
        result: dict[str, Any] = to_jsonable_python(summary)
        return result

    # --- desktop: auto-clicker sessions -------------------------------------------------------

    def _desktop(self) -> Any:
        return _call(self._conn.supervisor.desktop.remote())

    def clicker_start(self, config: ClickerConfig | dict[str, Any]) -> ExecutionRecord:
        """Start an auto-clicker session on the desktop node; returns its execution record."""
        typed = ClickerConfig.model_validate(config)
        record: ExecutionRecord = _call(self._desktop().start_session.remote(typed))
        return record

    def clicker_stop(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = _call(self._desktop().stop_session.remote(session_id))
        return result

    def clicker_sessions(self) -> builtins.list[dict[str, Any]]:
        result: builtins.list[dict[str, Any]] = _call(self._desktop().list_sessions.remote())
        return result

    def desktop_reset(self) -> bool:
        """Re-arm the desktop after the kill switch; True if it had tripped."""
        result: bool = _call(self._desktop().reset_kill_switch.remote())
        return result

    def clicker_session(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = _call(self._desktop().get_session.remote(session_id))
        return result

    def node_types(self) -> builtins.list[NodeTypeInfo]:
        """Every node type the runtime knows, whether it is enabled, and its parameters'
        JSON Schema."""
        result: builtins.list[NodeTypeInfo] = _call(self._conn.supervisor.node_types.remote())
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = _call(self._conn.supervisor.status.remote())
        if "triggers" not in result:
            try:
                result["triggers"] = self.trigger_summary()
            except (HubError, TimeoutError) as exc:
                result["triggers"] = {"unavailable": str(exc)}
        result["dashboard_url"] = self.dashboard_url
        result["database_url"] = _safe_url(self.database_url)
        result["embedded"] = self.embedded
        return result

    def close(self) -> None:
        """Disconnect; an embedded runtime stops with it."""
        import ray

        if ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def precheck(workflow: WorkflowRef, inputs: dict[str, Any]) -> None:
    """Compile a workflow document or file and validate inputs here, before any runtime
    starts: bad documents and inputs fail in milliseconds. Ids are checked by the runtime."""
    if isinstance(workflow, dict) or _is_file(workflow):
        doc = workflow if isinstance(workflow, dict) else load_document(workflow)
        plan = compile_workflow(doc).raise_for_errors()
        validate_inputs(dict(plan.inputs), inputs)


def _is_file(ref: str | Path) -> bool:
    text = str(ref)
    return text.endswith((".json", ".yaml", ".yml")) or ("/" in text and Path(text).exists())


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def connect(
    address: str | None = None,
    *,
    home: str | Path | None = None,
    serve_api: bool | Literal["lazy"] = False,
    triggers: bool = True,
) -> Client:
    """Connect to the runtime: the one at ``address``, the background one ``hub up`` started
    (found through ``HUB_HOME``), or a new embedded one that lives as long as this process
    (``serve_api``: with the HTTP API, as ``hub up`` has it; ``"lazy"``: once
    ``Client.start_api`` is called; ``triggers``: whether a new embedded runtime fires the stored
    workflows' triggers)."""
    where = Path(home) if home else None
    return Client(attach(address, home=where, serve_api=serve_api, triggers=triggers))


__all__ = ["Client", "connect", "load_document", "precheck"]
