"""Workflows run on the session's real Ray runtime: actors, node pools, the Recorder, SQLite."""

from __future__ import annotations

import itertools
import os
import time
import uuid
from typing import Any

import pytest

import hub
from hub import ExecutionStatus, InputsInvalid, NotFound, WorkflowInvalid

pytestmark = pytest.mark.ray


def wf(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"id": f"t-{uuid.uuid4().hex[:10]}", "nodes": nodes, "edges": edges or [], **extra}


def chain(*ids: str) -> list[dict[str, str]]:
    return [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]


def step(record: hub.ExecutionRecord, node_id: str) -> hub.StepRecord:
    return next(s for s in record.steps if s.node_id == node_id)


def test_every_control_node_runs_and_history_matches(runtime: hub.Client) -> None:
    doc = wf(
        [
            {"id": "vals", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}},
            {"id": "big", "type": "condition", "parameters": {"expression": "{{ $vals.n > 42 }}"}},
            {
                "id": "sw",
                "type": "switch",
                "parameters": {"value": "{{ $vals.n % 3 }}", "cases": ["0", "1"]},
            },
            {"id": "yes", "type": "log", "parameters": {"message": "big {{ $vals.n }}"}},
            {"id": "no", "type": "log", "parameters": {"message": "small", "level": "warn"}},
            {"id": "rest", "type": "delay", "parameters": {"seconds": 0.05}},
            {"id": "join", "type": "merge"},
        ],
        [
            *chain("vals", "big"),
            {"from": "big", "to": "yes", "when": "true"},
            {"from": "big", "to": "no", "when": "false"},
            {"from": "vals", "to": "sw"},
            {"from": "sw", "to": "rest", "when": "default"},
            {"from": "yes", "to": "join"},
            {"from": "no", "to": "join"},
            {"from": "rest", "to": "join"},
        ],
        inputs={"n": {"type": "integer", "required": True}},
    )
    record = runtime.run(doc, {"n": 50})
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["big"] == {"result": True}
    assert record.outputs["sw"] == {"value": 2, "case": "default"}
    assert step(record, "no").status == "skipped"
    assert record.outputs["join"] == {"yes": record.outputs["yes"], "rest": record.outputs["rest"]}
    stored = runtime.get(record.id)
    assert stored.status == ExecutionStatus.COMPLETED
    assert {s.node_id: s.status for s in stored.steps} == {
        s.node_id: s.status for s in record.steps
    }
    assert stored.outputs == record.outputs
    logs = runtime.logs(record.id)
    assert [(entry.node_id, entry.message) for entry in logs] == [("yes", "big 50")]


def test_http_node_fetches_and_branches(runtime: hub.Client, http_server: Any) -> None:
    doc = wf(
        [
            {
                "id": "fetch_user",
                "type": "http",
                "parameters": {"url": http_server.url + "/users/{{ $input.userId }}"},
            },
            {
                "id": "is_adult",
                "type": "condition",
                "parameters": {"expression": "{{ $fetch_user.body.age >= 18 }}"},
            },
            {
                "id": "greet",
                "type": "set",
                "parameters": {"values": {"hello": "{{ $fetch_user.body.name }}"}},
            },
        ],
        [*chain("fetch_user", "is_adult"), {"from": "is_adult", "to": "greet", "when": "true"}],
        inputs={"userId": {"type": "integer", "required": True, "minimum": 1}},
    )
    record = runtime.run(doc, {"userId": 3})
    assert record.status == "completed", record.error
    assert record.outputs["fetch_user"]["status_code"] == 200
    assert record.outputs["greet"] == {"hello": "user3"}
    sent = [r for r in http_server.requests if r["path"] == "/users/3"][-1]
    assert sent["headers"]["Idempotency-Key"] == f"{record.id}:fetch_user:1"


def test_retries_are_counted_and_recorded(runtime: hub.Client, http_server: Any) -> None:
    key = uuid.uuid4().hex
    doc = wf(
        [
            {
                "id": "flaky",
                "type": "http",
                "parameters": {"url": f"{http_server.url}/flaky?key={key}&fails=2"},
                "retry": {"max_attempts": 4, "backoff_s": 0.01},
            }
        ]
    )
    record = runtime.run(doc)
    assert record.status == "completed"
    assert step(record, "flaky").attempts == 3
    assert record.outputs["flaky"]["body"] == {"attempt": 3}
    retrying = [e for e in runtime.watch(record.id) if e.type == "step_retrying"]
    assert [e.data["attempt"] for e in retrying] == [1, 2]


def test_error_policies(runtime: hub.Client, http_server: Any) -> None:
    nodes = [
        {"id": "bad", "type": "http", "parameters": {"url": http_server.url + "/status?code=404"}},
        {"id": "after", "type": "set", "parameters": {"values": {"ok": True}}},
        {
            "id": "handler",
            "type": "set",
            "parameters": {"values": {"why": "{{ $bad.error.category }}"}},
        },
    ]
    edges = [{"from": "bad", "to": "after"}, {"from": "bad", "to": "handler", "when": "error"}]

    halted = runtime.run(wf(nodes, edges))
    assert halted.status == "failed"
    assert halted.error is not None
    assert (halted.error.category, halted.error.node_id) == ("http_status", "bad")

    ignored_nodes = [{**nodes[0], "on_error": "ignore"}, *nodes[1:]]
    ignored = runtime.run(wf(ignored_nodes, edges))
    assert ignored.status == "completed"
    assert ignored.outputs["after"] == {"ok": True}
    assert step(ignored, "handler").status == "skipped"
    assert ignored.outputs["bad"]["error"]["category"] == "http_status"

    branched = runtime.run(wf([{**nodes[0], "on_error": "branch"}, *nodes[1:]], edges))
    assert branched.status == "completed"
    assert step(branched, "after").status == "skipped"
    assert branched.outputs["handler"] == {"why": "http_status"}


def test_code_and_shell_nodes_run_in_other_processes(runtime: hub.Client) -> None:
    source = (
        "import os\ndef main(input):\n    return {'double': input['x'] * 2, 'pid': os.getpid()}"
    )
    doc = wf(
        [
            {
                "id": "calc",
                "type": "code",
                "parameters": {"source": source, "input": {"x": "{{ $input.x }}"}},
            },
            {
                "id": "sh",
                "type": "shell",
                "parameters": {
                    "argv": ["sh", "-c", "echo $1-$RUNTIME_TEST_HIDDEN", "sh", "{{ $calc.double }}"]
                },
            },
            {
                "id": "envcheck",
                "type": "set",
                "parameters": {"values": {"seen": "{{ $env.RUNTIME_TEST_VISIBLE }}"}},
            },
        ],
        chain("calc", "sh", "envcheck"),
        inputs={"x": {"type": "integer"}},
    )
    record = runtime.run(doc, {"x": 21})
    assert record.status == "completed", record.error
    assert record.outputs["calc"]["double"] == 42
    assert record.outputs["calc"]["pid"] != os.getpid()
    # the shell node gets no runtime environment beyond PATH & co, so the hidden var is empty
    assert record.outputs["sh"]["stdout"] == "42-\n"
    assert record.outputs["envcheck"] == {"seen": "visible-value"}


def test_code_timeout_replaces_the_process_and_pool_recovers(runtime: hub.Client) -> None:
    spin = "def main(input):\n    while True:\n        pass"
    doc = wf([{"id": "spin", "type": "code", "parameters": {"source": spin, "timeout_s": 1}}])
    record = runtime.run(doc)
    assert record.status == "failed"
    assert record.error is not None and record.error.category == "timeout"
    ok = runtime.run(
        wf(
            [
                {
                    "id": "c",
                    "type": "code",
                    "parameters": {"source": "def main(input):\n    return {'ok': True}"},
                }
            ]
        )
    )
    assert ok.status == "completed", ok.error
    assert ok.outputs["c"] == {"ok": True}


def test_node_raising_fails_the_step_not_the_runtime(runtime: hub.Client) -> None:
    crash = "def main(input):\n    return {'v': 1 / input['zero']}"
    record = runtime.run(
        wf([{"id": "boom", "type": "code", "parameters": {"source": crash, "input": {"zero": 0}}}])
    )
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.category == "node_error"
    assert "ZeroDivisionError" in record.error.message and "line 2" in record.error.message
    bad_expr = runtime.run(
        wf(
            [
                {"id": "a", "type": "set", "parameters": {"values": {"name": "x"}}},
                {"id": "b", "type": "set", "parameters": {"values": {"v": "{{ $a.nme }}"}}},
            ],
            chain("a", "b"),
        )
    )
    assert bad_expr.error is not None
    assert bad_expr.error.category == "expression"
    assert "$a.nme not found; did you mean 'name'?" in bad_expr.error.message
    assert runtime.run(wf([{"id": "fine", "type": "set"}])).status == "completed"


def test_parallel_branches_overlap(runtime: hub.Client) -> None:
    doc = wf(
        [
            {"id": "start", "type": "set"},
            {"id": "left", "type": "delay", "parameters": {"seconds": 0.5}},
            {"id": "right", "type": "delay", "parameters": {"seconds": 0.5}},
            {
                "id": "slow_code",
                "type": "code",
                "parameters": {
                    "source": "import time\ndef main(input):\n    time.sleep(0.5)\n    return {}"
                },
            },
        ],
        [
            {"from": "start", "to": "left"},
            {"from": "start", "to": "right"},
            {"from": "start", "to": "slow_code"},
        ],
    )
    record = runtime.run(doc)
    assert record.status == "completed", record.error
    spans = [(s.started_at, s.ended_at) for s in record.steps if s.node_id != "start"]
    for a_start, a_end in spans:
        for b_start, b_end in spans:
            assert a_start < b_end and b_start < a_end  # every pair of branches overlapped


def test_cancel_mid_run(runtime: hub.Client) -> None:
    doc = wf(
        [
            {"id": "first", "type": "set"},
            {"id": "wait", "type": "delay", "parameters": {"seconds": 60}},
            {"id": "never", "type": "set"},
        ],
        chain("first", "wait", "never"),
    )
    record = runtime.run(doc, wait=False)
    for event in runtime.watch(record.id):
        if event.type == "step_started" and event.node_id == "wait":
            break
    cancelled = runtime.cancel(record.id)
    assert cancelled.status == "cancelled"
    stored = runtime.get(record.id)
    assert stored.status == "cancelled"
    assert step(stored, "wait").status == "cancelled"
    assert "never" not in {s.node_id for s in stored.steps}
    with pytest.raises(hub.IllegalTransition):
        runtime.cancel(record.id)


def test_runs_queue_at_the_concurrency_limit(runtime: hub.Client) -> None:
    limit = runtime.status()["max_concurrent_executions"]
    doc = wf([{"id": "wait", "type": "delay", "parameters": {"seconds": 1}}])
    runtime.register(doc)
    records = [runtime.run(doc["id"], wait=False) for _ in range(limit + 3)]
    status = runtime.status()
    assert status["running"] == limit
    assert status["queued"] == 3
    assert [r.status for r in records].count("queued") >= 3
    finals = [runtime.wait(r.id, timeout_s=60) for r in records]
    assert all(f.status == "completed" for f in finals)
    starts = sorted(f.started_at for f in finals if f.started_at)
    ends = sorted(f.ended_at for f in finals if f.ended_at)
    assert starts[limit] >= ends[0]  # the first queued run started only after one finished


def test_custom_node_type_from_an_entry_point(runtime: hub.Client) -> None:
    doc = wf(
        [{"id": "e", "type": "test.echo", "parameters": {"value": "{{ $input.v }}"}}],
        inputs={"v": {"type": "array"}},
    )
    record = runtime.run(doc, {"v": [1, 2]})
    assert record.status == "completed", record.error
    assert record.outputs["e"]["echo"] == [1, 2]
    assert record.outputs["e"]["pid"] != os.getpid()
    assert [entry.message for entry in runtime.logs(record.id)] == ["echoing [1, 2]"]


def test_bad_documents_and_inputs_are_refused(runtime: hub.Client) -> None:
    with pytest.raises(WorkflowInvalid) as invalid:
        runtime.register(wf([{"id": "x", "type": "htp"}]))
    assert invalid.value.diagnostics[0]["suggestion"] == "http"
    doc = wf([{"id": "a", "type": "set"}], inputs={"n": {"type": "integer", "required": True}})
    runtime.register(doc)
    with pytest.raises(InputsInvalid) as bad_inputs:
        runtime.run(doc["id"], {"n": "many"})
    assert bad_inputs.value.errors[0]["path"] == "n"
    with pytest.raises(NotFound):
        runtime.run("no-such-workflow")
    assert runtime.list(workflow_id=doc["id"]) == []


def test_workflow_versions_and_idempotent_starts(runtime: hub.Client) -> None:
    doc = wf([{"id": "v", "type": "set", "parameters": {"values": {"version": 1}}}])
    runtime.register(doc)
    runtime.register(
        {
            **doc,
            "version": "2",
            "nodes": [{"id": "v", "type": "set", "parameters": {"values": {"version": 2}}}],
        }
    )
    assert runtime.run(doc["id"]).outputs["v"] == {"version": 2}
    assert runtime.run(doc["id"], version="1").outputs["v"] == {"version": 1}
    key = uuid.uuid4().hex
    first = runtime.run(doc["id"], idempotency_key=key)
    second = runtime.run(doc["id"], idempotency_key=key)
    assert first.id == second.id


def test_watch_streams_every_event_in_order(runtime: hub.Client) -> None:
    doc = wf(
        [{"id": "a", "type": "set"}, {"id": "b", "type": "delay", "parameters": {"seconds": 0.2}}],
        chain("a", "b"),
    )
    record = runtime.run(doc, wait=False)
    events = list(runtime.watch(record.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "execution_started"
    assert events[-1].type == "execution_completed"
    assert [e.node_id for e in events if e.type == "step_completed"] == ["a", "b"]
    # a late watcher replays the same stream from the store
    assert [e.seq for e in runtime.watch(record.id)] == [e.seq for e in events]
    assert [e.type for e in runtime.watch(record.id, after_seq=len(events) - 1)] == [
        "execution_completed"
    ]


def test_many_concurrent_runs_all_recorded(runtime: hub.Client) -> None:
    doc = wf(
        [
            {"id": "a", "type": "set", "parameters": {"values": {"i": "{{ $input.i }}"}}},
            {"id": "b", "type": "test.echo", "parameters": {"value": "{{ $a.i }}"}},
        ],
        chain("a", "b"),
        inputs={"i": {"type": "integer"}},
    )
    runtime.register(doc)
    records = [runtime.run(doc["id"], {"i": i}, wait=False) for i in range(40)]
    finals = [runtime.wait(r.id, timeout_s=120) for r in records]
    assert [f.outputs["b"]["echo"] for f in finals] == list(range(40))
    stored = runtime.list(workflow_id=doc["id"], limit=100)
    assert len(stored) == 40 and all(s.status == "completed" for s in stored)


def test_a_crashing_code_process_is_replaced(runtime: hub.Client) -> None:
    crash = "import os\ndef main(input):\n    os._exit(3)"
    record = runtime.run(wf([{"id": "die", "type": "code", "parameters": {"source": crash}}]))
    assert record.status == "failed"
    assert record.error is not None and "died" in record.error.message
    ok = runtime.run(
        wf(
            [
                {
                    "id": "c",
                    "type": "code",
                    "parameters": {"source": "def main(input):\n    return {'alive': True}"},
                }
            ]
        )
    )
    assert ok.status == "completed" and ok.outputs["c"] == {"alive": True}


def test_an_execution_actor_stores_its_step_rows_itself(runtime: hub.Client) -> None:
    """settings.step_writes "direct" (the default), SQLite on this machine: the ExecutionActor
    writes its action steps' rows to the store itself, fenced by its runner token; what the
    history shows is the same as through the Recorder."""
    import ray

    source = (
        "import time\ndef main(input):\n    time.sleep(input['s'])\n    return {'s': input['s']}"
    )
    doc = wf(
        [
            {"id": "slow", "type": "code", "parameters": {"source": source, "input": {"s": 1.5}}},
            {"id": "fast", "type": "code", "parameters": {"source": source, "input": {"s": 0}}},
        ],
        chain("slow", "fast"),
    )
    record = runtime.run(doc, wait=False)
    supervisor = ray.get_actor("supervisor", namespace="runtime-hub")
    for _ in range(200):
        lease = ray.get(supervisor.where.remote())["executions"].get(record.id)
        if lease:
            break
        time.sleep(0.05)
    assert lease is not None, "the run never showed up as running"
    assert lease["step_writes"] == "direct"
    done = runtime.wait(record.id)
    assert done.status == "completed", done.error
    assert [(s.node_id, s.status, s.output) for s in done.steps] == [
        ("slow", "completed", {"s": 1.5}),
        ("fast", "completed", {"s": 0}),
    ]


def test_a_new_execution_actor_opens_its_store_before_its_first_run(runtime: hub.Client) -> None:
    """What the supervisor asks of every ExecutionActor it makes (``prepare``): the store its
    runs' records go to is open before a run comes, not on the first run's clock."""
    import ray

    from actors import NAMESPACE, RECORDER_NAME, ExecutionActor

    recorder = ray.get_actor(RECORDER_NAME, namespace=NAMESPACE)
    actor = ExecutionActor.options(namespace=NAMESPACE).remote(  # type: ignore[attr-defined]
        recorder, "supervisor", NAMESPACE, 20.0
    )
    try:
        assert ray.get(actor.where.remote(), timeout=120)["step_writes"] == "recorder"
        ray.get(actor.prepare.remote(), timeout=120)
        assert ray.get(actor.where.remote(), timeout=60)["step_writes"] == "direct"
    finally:
        ray.kill(actor)
