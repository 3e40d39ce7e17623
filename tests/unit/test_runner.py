"""hub.runner.ExecutionRunner, driven in-process by hub.local.run_in_process (no Ray)."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.local import MemoryJournal, run_in_process
from hub.nodes import NodeRegistry, NoParameters, default_registry, node_type
from hub.plan import ExecutionPlan
from hub.records import (
    AppendEvent,
    CreateExecution,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    UpdateExecution,
    UpsertStep,
)

FAST_RETRY = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.02}


# --- helpers --------------------------------------------------------------------------------------


def node(node_id: str, type_: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"id": node_id, "type": type_, "parameters": parameters or {}, **extra}


def log(node_id: str, message: Any = "hi", **extra: Any) -> dict[str, Any]:
    return node(node_id, "log", {"message": message}, **extra)


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def plan_of(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    *,
    registry: NodeRegistry | None = None,
    **top: Any,
) -> ExecutionPlan:
    document = {"id": "wf", "nodes": nodes, "edges": edges or [], **top}
    return compile_workflow(document, registry=registry).raise_for_errors()


def execute(
    plan: ExecutionPlan,
    inputs: dict[str, Any] | None = None,
    journal: MemoryJournal | None = None,
    **kwargs: Any,
) -> tuple[ExecutionRecord, MemoryJournal]:
    journal = journal if journal is not None else MemoryJournal()
    record = asyncio.run(run_in_process(plan, inputs, journal=journal, **kwargs))
    return record, journal


def run_nodes(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    inputs: dict[str, Any] | None = None,
    **top: Any,
) -> tuple[ExecutionRecord, MemoryJournal]:
    """Run a workflow; inputs not declared in ``top`` are declared from their Python types."""
    if inputs and "inputs" not in top:
        top["inputs"] = {name: {"type": _json_type(value)} for name, value in inputs.items()}
    return execute(plan_of(nodes, edges, **top), inputs)


def _json_type(value: Any) -> str:
    for python, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python):
            return name
    return "array" if isinstance(value, list) else "object"


def step(record: ExecutionRecord, node_id: str) -> StepRecord:
    found = [s for s in record.steps if s.node_id == node_id]
    assert found, f"no step {node_id!r} in {[s.node_id for s in record.steps]}"
    return found[0]


def events(journal: MemoryJournal) -> list[Event]:
    return [w.event for w in journal.writes if isinstance(w, AppendEvent)]


def event_types(journal: MemoryJournal, node_id: str | None = None) -> list[str]:
    return [e.type for e in events(journal) if node_id is None or e.node_id == node_id]


# --- inline node outputs (docs/dsl.md table) ------------------------------------------------------


def test_set_outputs_the_resolved_object() -> None:
    values = {"n": "{{ $input.n }}", "nested": {"list": ["{{ $input.n + 1 }}", "x"]}, "k": 1}
    record, _ = run_nodes([node("s", "set", {"values": values})], inputs={"n": 5})
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["s"] == {"n": 5, "nested": {"list": [6, "x"]}, "k": 1}
    assert step(record, "s").status == StepStatus.COMPLETED


def test_condition_output_and_ports() -> None:
    record, journal = run_nodes(
        [
            node("c", "condition", {"expression": "{{ $input.n > 3 }}"}),
            log("big"),
            log("small"),
        ],
        [edge("c", "big", "true"), edge("c", "small", "false")],
        inputs={"n": 5},
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["c"] == {"result": True}
    assert step(record, "big").status == StepStatus.COMPLETED
    assert step(record, "small").status == StepStatus.SKIPPED
    completed = [e for e in events(journal) if e.type == "step_completed" and e.node_id == "c"]
    assert completed[0].data["port"] == "true"
    skipped = [e for e in events(journal) if e.type == "step_skipped"]
    assert [e.node_id for e in skipped] == ["small"]


@pytest.mark.parametrize(
    ("value", "case", "runs"),
    [("b", "b", "on_b"), ("z", "default", "other"), ("{{ 2 }}", "2", "on_2")],
)
def test_switch_output_and_ports(value: Any, case: str, runs: str) -> None:
    record, _ = run_nodes(
        [
            node("s", "switch", {"value": value, "cases": ["b", "2"]}),
            log("on_b"),
            log("on_2"),
            log("other"),
        ],
        [edge("s", "on_b", "b"), edge("s", "on_2", "2"), edge("s", "other", "default")],
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["s"]["case"] == case
    assert record.outputs["s"]["value"] == (2 if value == "{{ 2 }}" else value)
    ran = {s.node_id for s in record.steps if s.status == StepStatus.COMPLETED} - {"s"}
    assert ran == {runs}


def test_merge_collects_only_the_taken_upstream_outputs() -> None:
    record, _ = run_nodes(
        [
            node("c", "condition", {"expression": True}),
            node("yes", "set", {"values": {"v": "yes"}}),
            node("no", "set", {"values": {"v": "no"}}),
            node("other", "set", {"values": {"v": 3}}),
            node("m", "merge"),
        ],
        [
            edge("c", "yes", "true"),
            edge("c", "no", "false"),
            edge("yes", "m"),
            edge("no", "m"),
            edge("other", "m"),
        ],
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["m"] == {"yes": {"v": "yes"}, "other": {"v": 3}}


def test_delay_outputs_slept_seconds() -> None:
    record, _ = run_nodes([node("d", "delay", {"seconds": 0.01})])
    assert record.status == ExecutionStatus.COMPLETED
    slept = record.outputs["d"]["slept_s"]
    assert isinstance(slept, float)
    assert slept > 0
    assert set(record.outputs["d"]) == {"slept_s"}


def test_log_outputs_and_writes_a_log_entry() -> None:
    record, journal = run_nodes(
        [
            log("info", "hello {{ $input.who }}"),
            node("err", "log", {"message": "{{ 1 + 1 }}", "level": "error"}),
        ],
        inputs={"who": "Ada"},
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["info"] == {"logged": True, "message": "hello Ada"}
    assert record.outputs["err"] == {"logged": True, "message": "2"}
    logs = {e.node_id: e.data for e in events(journal) if e.type == "log"}
    assert logs["info"]["level"] == "info"
    assert logs["info"]["message"] == "hello Ada"
    assert logs["err"]["level"] == "error"


def test_fail_always_fails_with_its_message() -> None:
    record, _ = run_nodes([node("f", "fail", {"message": "too young"})])
    assert record.status == ExecutionStatus.FAILED
    failed = step(record, "f")
    assert failed.status == StepStatus.FAILED
    assert failed.error is not None
    assert failed.error.message == "too young"
    assert failed.error.category == "node_error"
    assert failed.error.attempts == 1
    assert record.error is not None
    assert record.error.message == "too young"
    assert record.error.node_id == "f"


# --- expressions at run time ----------------------------------------------------------------------


def test_whole_template_keeps_its_type_and_mixed_text_is_a_string() -> None:
    values = {
        "int": "{{ $input.n }}",
        "float": "{{ $input.n / 2 }}",
        "bool": "{{ $input.flag }}",
        "obj": "{{ $input.obj }}",
        "list": "{{ [1, 'a', None] }}",
        "text": "n={{ $input.n }}",
        "null": "{{ $input.obj.missing if False else None }}",
    }
    record, _ = run_nodes(
        [node("s", "set", {"values": values})],
        inputs={"n": 5, "flag": True, "obj": {"a": [1, 2]}},
    )
    assert record.status == ExecutionStatus.COMPLETED, record.error
    out = record.outputs["s"]
    assert out["int"] == 5 and type(out["int"]) is int
    assert out["float"] == 2.5
    assert out["bool"] is True
    assert out["obj"] == {"a": [1, 2]}
    assert out["list"] == [1, "a", None]
    assert out["text"] == "n=5"
    assert out["null"] is None


def test_upstream_outputs_are_reachable_by_node_id() -> None:
    record, _ = run_nodes(
        [
            node("a", "set", {"values": {"user": {"name": "Ada"}}}),
            log("b", "hi {{ $a.user.name }}"),
        ],
        [edge("a", "b")],
    )
    assert record.outputs["b"]["message"] == "hi Ada"


def test_execution_fields() -> None:
    values = {
        "id": "{{ $execution.id }}",
        "wf": "{{ $execution.workflow_id }}",
        "version": "{{ $execution.workflow_version }}",
        "attempt": "{{ $execution.attempt }}",
        "started": "{{ $execution.started_at }}",
    }
    record, _ = run_nodes([node("s", "set", {"values": values})], version="7")
    out = record.outputs["s"]
    assert out["id"] == record.id
    assert out["wf"] == "wf"
    assert out["version"] == "7"
    assert out["attempt"] == 1
    assert record.started_at is not None
    assert out["started"] == record.started_at.isoformat()


def test_execution_attempt_counts_retries() -> None:
    record, journal = run_nodes(
        [
            node(
                "f",
                "fail",
                {"message": "attempt {{ $execution.attempt }}", "retryable": True},
                retry=FAST_RETRY,
            )
        ]
    )
    retrying = [e.data["error"] for e in events(journal) if e.type == "step_retrying"]
    assert retrying == ["attempt 1", "attempt 2"]
    assert record.error is not None
    assert record.error.message == "attempt 3"


def test_missing_key_is_an_expression_error_naming_the_closest_key() -> None:
    record, _ = run_nodes(
        [node("a", "set", {"values": {"name": "Ada"}}), log("b", "{{ $a.nme }}", retry=FAST_RETRY)],
        [edge("a", "b")],
    )
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "b").error
    assert error is not None
    assert error.category == "expression"
    assert "nme" in error.message
    assert "name" in error.message


def test_expression_errors_are_never_retried() -> None:
    record, journal = run_nodes(
        [node("a", "set", {"values": {"x": 1}}), log("b", "{{ $a.x / 0 }}", retry=FAST_RETRY)],
        [edge("a", "b")],
    )
    b = step(record, "b")
    assert b.status == StepStatus.FAILED
    assert b.attempts == 1
    assert b.error is not None and b.error.category == "expression"
    assert "step_retrying" not in event_types(journal)


# --- retries and timeouts -------------------------------------------------------------------------


def test_retryable_failure_is_retried_up_to_max_attempts() -> None:
    record, journal = run_nodes(
        [node("f", "fail", {"message": "flaky", "retryable": True}, retry=FAST_RETRY)]
    )
    assert record.status == ExecutionStatus.FAILED
    f = step(record, "f")
    assert f.status == StepStatus.FAILED
    assert f.attempts == 3
    assert f.error is not None
    assert f.error.attempts == 3
    assert f.error.retryable is True
    types = event_types(journal, "f")
    assert types == [
        "step_started",
        "step_retrying",
        "step_started",
        "step_retrying",
        "step_started",
        "step_failed",
    ]
    retrying = [e.data for e in events(journal) if e.type == "step_retrying"]
    assert [d["attempt"] for d in retrying] == [1, 2]
    assert all(d["category"] == "node_error" for d in retrying)
    assert all(0 <= d["delay_s"] <= 0.02 for d in retrying)


def test_non_retryable_failure_is_attempted_once() -> None:
    record, journal = run_nodes(
        [node("f", "fail", {"message": "final", "retryable": False}, retry=FAST_RETRY)]
    )
    f = step(record, "f")
    assert f.attempts == 1
    assert f.error is not None and f.error.attempts == 1
    assert "step_retrying" not in event_types(journal)


def test_retryable_is_decided_per_attempt() -> None:
    # retryable is decided per attempt from an expression: only attempt 1 is retryable.
    record, _ = run_nodes(
        [
            node(
                "f",
                "fail",
                {"message": "x", "retryable": "{{ $execution.attempt < 2 }}"},
                retry=FAST_RETRY,
            )
        ]
    )
    # attempt 1 is retryable, attempt 2 is not: two attempts in all
    assert step(record, "f").attempts == 2


def test_per_attempt_timeout() -> None:
    record, _ = run_nodes([node("d", "delay", {"seconds": 5}, timeout_s=0.05)])
    assert record.status == ExecutionStatus.FAILED
    d = step(record, "d")
    assert d.status == StepStatus.FAILED
    assert d.error is not None
    assert d.error.category == "timeout"
    assert d.error.retryable is True
    assert record.error is not None and record.error.category == "timeout"


def test_per_attempt_timeout_is_retried() -> None:
    record, journal = run_nodes(
        [
            node(
                "d",
                "delay",
                {"seconds": 5},
                timeout_s=0.03,
                retry={**FAST_RETRY, "max_attempts": 2},
            )
        ]
    )
    d = step(record, "d")
    assert d.attempts == 2
    assert d.error is not None and d.error.category == "timeout"
    assert event_types(journal, "d").count("step_retrying") == 1


def test_workflow_timeout_fails_the_execution_and_cancels_running_steps() -> None:
    record, journal = run_nodes(
        [node("slow", "delay", {"seconds": 5}), log("after")],
        [edge("slow", "after")],
        settings={"timeout_s": 0.1},
    )
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.category == "timeout"
    slow = step(record, "slow")
    assert slow.status == StepStatus.CANCELLED
    assert slow.error is not None and slow.error.category == "cancelled"
    assert slow.ended_at is not None
    assert "after" not in {s.node_id for s in record.steps}  # never started
    assert "step_cancelled" in event_types(journal, "slow")
    assert event_types(journal)[-1] == "execution_failed"


def test_halt_cancels_a_concurrently_running_step() -> None:
    record, _ = run_nodes(
        [node("slow", "delay", {"seconds": 5}), node("boom", "fail", {"message": "kaput"})]
    )
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.message == "kaput"
    assert record.error.node_id == "boom"
    assert step(record, "boom").status == StepStatus.FAILED
    slow = step(record, "slow")
    assert slow.status == StepStatus.CANCELLED
    assert slow.error is not None and slow.error.category == "cancelled"


def test_halt_stops_downstream_nodes() -> None:
    record, _ = run_nodes([node("boom", "fail"), log("after")], [edge("boom", "after")])
    assert record.status == ExecutionStatus.FAILED
    assert "after" not in {s.node_id for s in record.steps}
    assert "after" not in record.outputs


def test_parallel_branches_overlap() -> None:
    record, _ = run_nodes(
        [node("d1", "delay", {"seconds": 0.1}), node("d2", "delay", {"seconds": 0.1})]
    )
    assert record.status == ExecutionStatus.COMPLETED
    d1, d2 = step(record, "d1"), step(record, "d2")
    assert d1.started_at and d1.ended_at and d2.started_at and d2.ended_at
    assert d1.started_at < d2.ended_at
    assert d2.started_at < d1.ended_at


def test_sequential_steps_do_not_overlap() -> None:
    record, _ = run_nodes(
        [node("d1", "delay", {"seconds": 0.02}), node("d2", "delay", {"seconds": 0.02})],
        [edge("d1", "d2")],
    )
    d1, d2 = step(record, "d1"), step(record, "d2")
    assert d1.ended_at is not None and d2.started_at is not None
    assert d1.ended_at <= d2.started_at


def test_max_parallel_steps_limits_concurrency() -> None:
    record, _ = run_nodes(
        [node("d1", "delay", {"seconds": 0.05}), node("d2", "delay", {"seconds": 0.05})],
        settings={"max_parallel_steps": 1},
    )
    d1, d2 = sorted((step(record, "d1"), step(record, "d2")), key=lambda s: s.started_at)
    assert d1.ended_at is not None and d2.started_at is not None
    assert d1.ended_at <= d2.started_at


# --- error policies and disabled nodes at run time ------------------------------------------------


def test_ignore_goes_on_with_an_error_output() -> None:
    record, _ = run_nodes(
        [
            node("f", "fail", {"message": "meh"}, on_error="ignore"),
            log("next", "{{ $f.error.message }}"),
        ],
        [edge("f", "next")],
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert step(record, "f").status == StepStatus.FAILED
    assert record.outputs["f"] == {
        "error": {"message": "meh", "category": "node_error", "attempts": 1}
    }
    assert record.outputs["next"]["message"] == "meh"


def test_branch_takes_the_error_edge() -> None:
    record, _ = run_nodes(
        [
            node("f", "fail", {"message": "bad"}, on_error="branch"),
            log("ok"),
            log("handler", "caught: {{ $f.error.message }} ({{ $f.error.category }})"),
        ],
        [edge("f", "ok"), edge("f", "handler", "error")],
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert step(record, "ok").status == StepStatus.SKIPPED
    assert record.outputs["handler"]["message"] == "caught: bad (node_error)"


def test_disabled_node_passes_through() -> None:
    record, journal = run_nodes(
        [log("a"), node("off", "fail", {"message": "never"}, disabled=True), log("c")],
        [edge("a", "off"), edge("off", "c")],
    )
    assert record.status == ExecutionStatus.COMPLETED
    off = step(record, "off")
    assert off.status == StepStatus.SKIPPED
    assert off.attempts == 0
    assert step(record, "c").status == StepStatus.COMPLETED
    skipped = [e for e in events(journal) if e.type == "step_skipped" and e.node_id == "off"]
    assert skipped[0].data["reason"] == "disabled"


# --- code, shell ----------------------------------------------------------------------------------


def test_code_node_returns_what_main_returns() -> None:
    source = "def main(input):\n    return {'double': input['n'] * 2, 'keys': sorted(input)}\n"
    record, _ = run_nodes(
        [node("c", "code", {"source": source, "input": {"n": "{{ $input.n }}"}})],
        inputs={"n": 21},
    )
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["c"] == {"double": 42, "keys": ["n"]}


def test_code_node_exception_names_the_line() -> None:
    source = "def main(input):\n    x = 1\n    raise ValueError('nope')\n"
    record, _ = run_nodes([node("c", "code", {"source": source})])
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "c").error
    assert error is not None
    assert error.category == "node_error"
    assert "ValueError" in error.message
    assert "nope" in error.message
    assert "line 3" in error.message


def test_code_node_syntax_error_is_validation() -> None:
    record, _ = run_nodes([node("c", "code", {"source": "def main(input)\n    pass\n"})])
    error = step(record, "c").error
    assert error is not None
    assert error.category == "validation"
    assert "line 1" in error.message


def test_code_node_without_main_is_validation() -> None:
    record, _ = run_nodes([node("c", "code", {"source": "x = 1\n"})])
    error = step(record, "c").error
    assert error is not None
    assert error.category == "validation"
    assert "main" in error.message


def test_code_node_timeout_parameter() -> None:
    source = "import time\ndef main(input):\n    time.sleep(0.3)\n    return {}\n"
    record, _ = run_nodes([node("c", "code", {"source": source, "timeout_s": 0.05})])
    error = step(record, "c").error
    assert error is not None
    assert error.category == "timeout"


def test_code_nodes_disabled_by_family() -> None:
    plan = plan_of([node("c", "code", {"source": "def main(input):\n    return {}\n"})])
    record, _ = execute(plan, enabled_families=frozenset())
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "c").error
    assert error is not None
    assert "code nodes are disabled" in error.message
    assert error.category == "validation"
    assert step(record, "c").attempts == 1


def test_shell_nodes_disabled_by_family() -> None:
    plan = plan_of([node("s", "shell", {"argv": ["echo", "hi"]})])
    record, _ = execute(plan, enabled_families=frozenset({"code"}))
    error = step(record, "s").error
    assert error is not None
    assert "shell nodes are disabled" in error.message


def test_shell_echo() -> None:
    record, _ = run_nodes([node("s", "shell", {"argv": ["echo", "hi"]})])
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["s"] == {"exit_code": 0, "stdout": "hi\n", "stderr": ""}


def test_shell_nonzero_exit_fails_with_stderr() -> None:
    argv = ["sh", "-c", "echo oops >&2; exit 3"]
    record, _ = run_nodes([node("s", "shell", {"argv": argv})])
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "s").error
    assert error is not None
    assert error.category == "node_error"
    assert "3" in error.message
    assert "oops" in error.message


def test_shell_nonzero_exit_allowed() -> None:
    argv = ["sh", "-c", "echo out; exit 3"]
    record, _ = run_nodes([node("s", "shell", {"argv": argv, "fail_on_exit_code": False})])
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["s"] == {"exit_code": 3, "stdout": "out\n", "stderr": ""}


def test_shell_env_cwd_and_stdin(tmp_path: Path) -> None:
    argv = ["sh", "-c", 'echo "$GREETING"; pwd; cat']
    params = {"argv": argv, "env": {"GREETING": "hello"}, "cwd": str(tmp_path), "stdin": "in"}
    record, _ = run_nodes([node("s", "shell", params)])
    assert record.outputs["s"]["stdout"] == f"hello\n{tmp_path}\nin"


def test_shell_missing_program_is_validation() -> None:
    record, _ = run_nodes([node("s", "shell", {"argv": ["/no/such/program-xyz"]})])
    error = step(record, "s").error
    assert error is not None
    assert error.category == "validation"


# --- http, against a loopback server --------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body.decode(),
                        }
                    )
                if self.path.startswith("/json"):
                    self._send(200, json.dumps({"name": "Ada", "age": 36}), "application/json")
                elif self.path.startswith("/text"):
                    self._send(200, "plain words", "text/plain")
                elif self.path.startswith("/echo"):
                    self._send(201, body.decode() or "{}", "application/json")
                elif self.path.startswith("/error"):
                    self._send(500, json.dumps({"error": "down"}), "application/json")
                else:
                    self._send(404, "missing", "text/plain")

            def _send(self, status: int, text: str, content_type: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def paths(self) -> list[str]:
        with self.lock:
            return [r["path"] for r in self.requests]


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join()


def test_http_get_parses_a_json_body(server: _Server) -> None:
    record, _ = run_nodes(
        [
            node("h", "http", {"url": server.url + "/json/{{ $input.id }}", "query": {"v": 2}}),
            log("greet", "{{ $h.body.name }} is {{ $h.body.age }}"),
        ],
        [edge("h", "greet")],
        inputs={"id": 7},
    )
    assert record.status == ExecutionStatus.COMPLETED, record.error
    out = record.outputs["h"]
    assert out["status_code"] == 200
    assert out["body"] == {"name": "Ada", "age": 36}
    assert out["headers"]["content-type"] == "application/json"
    assert record.outputs["greet"]["message"] == "Ada is 36"
    assert server.paths() == ["/json/7?v=2"]


def test_http_text_body_stays_text(server: _Server) -> None:
    record, _ = run_nodes([node("h", "http", {"url": server.url + "/text"})])
    assert record.outputs["h"]["body"] == "plain words"


def test_http_post_json_and_headers(server: _Server) -> None:
    params = {
        "method": "POST",
        "url": server.url + "/echo",
        "json": {"n": "{{ $input.n }}"},
        "headers": {"X-Custom": "yes"},
    }
    record, _ = run_nodes([node("h", "http", params)], inputs={"n": 3})
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["h"]["status_code"] == 201
    assert record.outputs["h"]["body"] == {"n": 3}
    sent = server.requests[0]
    assert sent["method"] == "POST"
    assert sent["headers"]["X-Custom"] == "yes"
    assert json.loads(sent["body"]) == {"n": 3}


def test_http_sends_an_idempotency_key_per_attempt(server: _Server) -> None:
    record, _ = run_nodes([node("h", "http", {"url": server.url + "/json"})])
    key = server.requests[0]["headers"]["Idempotency-Key"]
    assert key == f"{record.id}:h:1"


def test_http_5xx_is_http_status_and_retried(server: _Server) -> None:
    record, journal = run_nodes(
        [node("h", "http", {"url": server.url + "/error"}, retry=FAST_RETRY)]
    )
    assert record.status == ExecutionStatus.FAILED
    h = step(record, "h")
    assert h.attempts == 3
    assert h.error is not None
    assert h.error.category == "http_status"
    assert h.error.retryable is True
    assert "500" in h.error.message
    assert server.paths() == ["/error"] * 3
    keys = [r["headers"]["Idempotency-Key"] for r in server.requests]
    assert keys == [f"{record.id}:h:{n}" for n in (1, 2, 3)]
    assert event_types(journal, "h").count("step_retrying") == 2


def test_http_4xx_is_not_retried(server: _Server) -> None:
    record, _ = run_nodes([node("h", "http", {"url": server.url + "/nothing"}, retry=FAST_RETRY)])
    h = step(record, "h")
    assert h.attempts == 1
    assert h.error is not None and h.error.category == "http_status"


def test_http_expect_status(server: _Server) -> None:
    record, _ = run_nodes(
        [node("h", "http", {"url": server.url + "/nothing", "expect_status": [404]})]
    )
    assert record.status == ExecutionStatus.COMPLETED
    assert record.outputs["h"]["status_code"] == 404


def test_http_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the port is closed now: nothing listens there
    record, _ = run_nodes([node("h", "http", {"url": f"http://127.0.0.1:{port}/"})])
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "h").error
    assert error is not None
    assert error.category == "connection"
    assert error.retryable is True


# --- journal --------------------------------------------------------------------------------------


class RecordingJournal(MemoryJournal):
    """Remembers how many writes existed at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    async def flush(self) -> None:
        await super().flush()
        self.flushed_at.append(len(self.writes))


def test_journal_order() -> None:
    plan = plan_of([log("a"), log("b")], [edge("a", "b")])
    record, journal = execute(plan)
    assert isinstance(journal.writes[0], CreateExecution)
    assert journal.writes[0].record.id == record.id
    assert journal.writes[0].record.status == ExecutionStatus.QUEUED
    assert isinstance(journal.writes[1], UpdateExecution)
    assert journal.writes[1].status == ExecutionStatus.RUNNING
    types = event_types(journal)
    assert types[0] == "execution_started"
    assert types[-1] == "execution_completed"
    # per node: started before completed; a before b
    a_done = next(i for i, e in enumerate(events(journal)) if e.type == "step_completed")
    b_start = max(
        i for i, e in enumerate(events(journal)) if e.type == "step_started" and e.node_id == "b"
    )
    assert events(journal)[a_done].node_id == "a"
    assert a_done < b_start
    final = [w for w in journal.writes if isinstance(w, UpdateExecution)][-1]
    assert final.status == ExecutionStatus.COMPLETED
    assert final.outputs == record.outputs
    upserts = [w for w in journal.writes if isinstance(w, UpsertStep)]
    assert {w.step.node_id for w in upserts} == {"a", "b"}
    assert all(e.execution_id == record.id for e in events(journal))


def test_failed_execution_ends_with_execution_failed() -> None:
    _, journal = execute(plan_of([node("f", "fail")]))
    assert event_types(journal)[-1] == "execution_failed"
    assert events(journal)[-1].data["error"]["message"] == "failed"


def test_action_results_are_flushed_before_dependents_start() -> None:
    plan = plan_of(
        [node("act", "shell", {"argv": ["echo", "x"]}), log("after")], [edge("act", "after")]
    )
    journal = RecordingJournal()
    record, _ = execute(plan, journal=journal)
    assert record.status == ExecutionStatus.COMPLETED
    assert journal.flushes > 0
    act_done = next(
        i
        for i, w in enumerate(journal.writes)
        if isinstance(w, UpsertStep)
        and w.step.node_id == "act"
        and w.step.status == StepStatus.COMPLETED
    )
    after_start = next(
        i
        for i, w in enumerate(journal.writes)
        if isinstance(w, AppendEvent)
        and w.event.type == "step_started"
        and w.event.node_id == "after"
    )
    # some flush covered the action's result and happened before the dependent started
    assert any(act_done < n <= after_start for n in journal.flushed_at)


def test_action_nodes_flush_more_than_inline_only_workflows() -> None:
    inline = RecordingJournal()
    execute(plan_of([log("a"), log("b")], [edge("a", "b")]), journal=inline)
    action = RecordingJournal()
    execute(
        plan_of([node("a", "shell", {"argv": ["true"]}), log("b")], [edge("a", "b")]),
        journal=action,
    )
    assert action.flushes > inline.flushes >= 1
    # the last flush makes the final record durable
    assert inline.flushed_at[-1] == len(inline.writes)


def test_secret_inputs_are_redacted_in_the_record_but_usable() -> None:
    plan = plan_of(
        [
            node(
                "s",
                "set",
                {
                    "values": {
                        "len": "{{ len($input.token) }}",
                        "ok": "{{ $input.token == 'hunter2' }}",
                    }
                },
            )
        ],
        inputs={"token": {"type": "string", "secret": True}, "user": {"type": "string"}},
    )
    record, journal = execute(plan, {"token": "hunter2", "user": "ada"})
    assert record.status == ExecutionStatus.COMPLETED
    assert record.inputs == {"token": "***", "user": "ada"}
    assert record.outputs["s"] == {"len": 7, "ok": True}
    created = journal.writes[0]
    assert isinstance(created, CreateExecution)
    assert created.record.inputs == {"token": "***", "user": "ada"}


def test_secret_inputs_never_reach_the_journal_in_clear() -> None:
    plan = plan_of(
        [log("l", "token is {{ $input.token }}")],
        inputs={"token": {"type": "string", "secret": True}},
    )
    _, journal = execute(plan, {"token": "hunter2"})
    leaked = [w.kind for w in journal.writes if "hunter2" in w.model_dump_json()]
    assert leaked == []


def test_invalid_inputs_are_rejected_before_running() -> None:
    from hub.errors import InputsInvalid

    plan = plan_of([log("a")], inputs={"n": {"type": "integer", "required": True}})
    journal = MemoryJournal()
    with pytest.raises(InputsInvalid):
        execute(plan, {}, journal=journal)
    assert journal.writes == []


# --- robustness -----------------------------------------------------------------------------------


def _registry_with(name: str, fn: Any) -> NodeRegistry:
    registry = NodeRegistry()
    for builtin in default_registry().types():
        registry.add(builtin)
    node_type(name, parameters=NoParameters, inline=True, registry=registry)(fn)
    return registry


def test_a_node_raising_an_unexpected_exception_fails_as_node_error() -> None:
    async def broken(params: Any, ctx: Any) -> Any:
        raise KeyError("oops")

    registry = _registry_with("broken", broken)
    record, _ = execute(plan_of([node("b", "broken")], registry=registry))
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "b").error
    assert error is not None
    assert error.category == "node_error"
    assert "KeyError" in error.message


def test_a_non_json_output_fails_the_step() -> None:
    async def weird(params: Any, ctx: Any) -> Any:
        return {"value": {1, 2}}

    registry = _registry_with("weird", weird)
    record, _ = execute(plan_of([node("w", "weird")], registry=registry))
    error = step(record, "w").error
    assert error is not None
    assert "not JSON" in error.message


def test_a_node_raising_timeout_error_without_timeout_s_fails_the_step() -> None:
    async def slowpoke(params: Any, ctx: Any) -> Any:
        raise TimeoutError("the service it called timed out")

    registry = _registry_with("slowpoke", slowpoke)
    record, _ = execute(
        plan_of([node("s", "slowpoke"), log("after")], [edge("s", "after")], registry=registry)
    )
    assert step(record, "s").status == StepStatus.FAILED
    assert record.status == ExecutionStatus.FAILED
