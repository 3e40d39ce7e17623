"""The foreach node without Ray: compile-time checks, item order, errors, retries, concurrency,
redaction, and resuming without rerunning finished items (hub.loops, hub._foreach_step)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.admission import AdmissionQueue
from hub.compiler import compile_workflow
from hub.errors import ErrorCategory, StepFailed
from hub.local import MemoryJournal, new_execution
from hub.nodes import NodeCall, NodeResult
from hub.plan import ExecutionPlan, PlanNode
from hub.records import (
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    UpsertStep,
)
from hub.restore import restore, reusable_steps
from hub.runner import ExecutionRunner

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FAST_RETRY = {"max_attempts": 3, "backoff_s": 0.001, "max_backoff_s": 0.002}


def document(parameters: dict[str, Any], **node_extra: Any) -> dict[str, Any]:
    return {
        "id": "wf",
        "inputs": {"rows": {"type": "array"}, "token": {"type": "string", "secret": True}},
        "nodes": [{"id": "loop", "type": "foreach", "parameters": parameters, **node_extra}],
    }


def plan_of(parameters: dict[str, Any], **node_extra: Any) -> ExecutionPlan:
    return compile_workflow(document(parameters, **node_extra)).raise_for_errors()


def diagnostics(parameters: dict[str, Any], node_id: str = "loop") -> list[tuple[str, str]]:
    doc = document(parameters)
    doc["nodes"][0]["id"] = node_id
    return [(d.code, d.path) for d in compile_workflow(doc).errors]


class FakeHttp:
    """An in-process stand-in for the http pool, used only to count and steer item calls; the
    integration tests (tests/integration/test_foreach.py) run real nodes on the runtime."""

    def __init__(self, fail: dict[int, int] | None = None, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = dict(fail or {})  # item index -> how many attempts fail (retryable)
        self.delay_s = delay_s
        self.in_flight = 0
        self.most = 0

    async def __call__(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> Any:
        index = int(call.node_id.split("[")[1].rstrip("]"))
        self.calls.append((call.node_id, call.attempt))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.fail.get(index, 0) >= call.attempt:
            raise StepFailed(f"HTTP 503 for item {index}", retryable=True)
        return NodeResult(output={"url": call.parameters["url"], "attempt": call.attempt})


def run(
    plan: ExecutionPlan,
    inputs: dict[str, Any],
    dispatch: Any = None,
    *,
    stored: list[StepRecord] | None = None,
) -> tuple[ExecutionRecord, MemoryJournal]:
    record, validated = new_execution(plan, inputs)
    journal = MemoryJournal()
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": validated}),
        dispatch=dispatch or FakeHttp(),
        journal=journal,
        restored=restore(plan, stored) if stored is not None else None,
    )
    return asyncio.run(runner.run()), journal


def item_rows(journal: MemoryJournal) -> dict[str, StepRecord]:
    """The last row written for each item."""
    rows = {}
    for write in journal.writes:
        if isinstance(write, UpsertStep) and "[" in write.step.node_id:
            rows[write.step.node_id] = write.step
    return rows


HTTP_EACH = {
    "items": "{{ $input.rows }}",
    "node": {"type": "http", "parameters": {"url": "http://svc/{{ $item.id }}?n={{ $index }}"}},
}


# --- compile time ---------------------------------------------------------------------------------


def test_item_and_index_exist_only_in_the_per_item_parameters() -> None:
    found = diagnostics({**HTTP_EACH, "concurrency": "{{ $index }}"})
    assert ("bad_reference", "/nodes/0/parameters/concurrency") in found


def test_the_item_node_is_checked_like_a_node() -> None:
    unknown = {"items": [1], "node": {"type": "htp", "parameters": {}}}
    assert diagnostics(unknown) == [("unknown_node_type", "/nodes/0/parameters/node/type")]
    branch = {"items": [1], "node": {"type": "condition", "parameters": {"expression": True}}}
    assert diagnostics(branch) == [("bad_parameters", "/nodes/0/parameters/node/type")]
    computed = {"items": [1], "node": {"type": "{{ $input.token }}"}}
    assert ("expression_not_allowed", "/nodes/0/parameters/node/type") in diagnostics(computed)
    bad_param = {"items": [1], "node": {"type": "http", "parameters": {"url": "x", "verb": "GET"}}}
    assert diagnostics(bad_param) == [
        ("bad_parameters", "/nodes/0/parameters/node/parameters/verb")
    ]


def test_a_sql_item_keeps_its_query_literal() -> None:
    query = {
        "items": [1],
        "node": {"type": "sql", "parameters": {"url": "sqlite://", "query": "SELECT {{ $item }}"}},
    }
    assert diagnostics(query) == [
        ("expression_not_allowed", "/nodes/0/parameters/node/parameters/query")
    ]


def test_node_or_workflow_id_not_both() -> None:
    both = {"items": [1], "node": {"type": "log"}, "workflow_id": "child"}
    assert [code for code, _ in diagnostics(both)] == ["bad_parameters"]
    neither = {"items": [1]}
    assert [code for code, _ in diagnostics(neither)] == ["bad_parameters"]


@pytest.mark.parametrize("name", ["item", "index"])
def test_item_and_index_are_reserved_node_ids(name: str) -> None:
    assert [code for code, _ in diagnostics(HTTP_EACH, node_id=name)] == ["invalid_document"]


# --- running --------------------------------------------------------------------------------------


def test_results_come_in_item_order_with_item_and_index() -> None:
    fake = FakeHttp(delay_s=0.001)
    rows = [{"id": f"r{i}"} for i in range(10)]
    record, journal = run(plan_of({**HTTP_EACH, "concurrency": 3}), {"rows": rows}, fake)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    results = record.outputs["loop"]["results"]
    assert [r["url"] for r in results] == [f"http://svc/r{i}?n={i}" for i in range(10)]
    assert record.outputs["loop"]["errors"] == []
    assert fake.most == 3  # never more than concurrency at once
    stored = item_rows(journal)
    assert sorted(stored) == sorted(f"loop[{i}]" for i in range(10))
    assert all(r.status == StepStatus.COMPLETED and r.node_type == "http" for r in stored.values())
    assert stored["loop[4]"].input == {"url": "http://svc/r4?n=4"}


def test_inline_item_nodes_run_in_the_runner() -> None:
    each = {
        "items": [1, 2, 3],
        "node": {"type": "set", "parameters": {"values": {"double": "{{ $item * 2 }}"}}},
    }
    record, _ = run(plan_of(each), {"rows": []})
    assert record.outputs["loop"]["results"] == [{"double": 2}, {"double": 4}, {"double": 6}]


def test_an_empty_list_completes_with_nothing() -> None:
    record, _ = run(plan_of(HTTP_EACH), {"rows": []})
    assert record.outputs["loop"] == {"results": [], "errors": []}


def test_each_item_gets_the_nodes_retry_policy() -> None:
    fake = FakeHttp(fail={2: 2})
    rows = [{"id": i} for i in range(4)]
    record, journal = run(plan_of(HTTP_EACH, retry=FAST_RETRY), {"rows": rows}, fake)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["loop"]["results"][2]["attempt"] == 3
    assert Counter(node_id for node_id, _ in fake.calls)["loop[2]"] == 3
    assert item_rows(journal)["loop[2]"].attempts == 3


def test_continue_collects_errors_and_runs_every_item() -> None:
    fake = FakeHttp(fail={1: 9, 3: 9})
    rows = [{"id": i} for i in range(5)]
    params = {**HTTP_EACH, "on_item_error": "continue", "concurrency": 2}
    record, journal = run(plan_of(params), {"rows": rows}, fake)
    assert record.status == ExecutionStatus.COMPLETED
    out = record.outputs["loop"]
    assert [r is None for r in out["results"]] == [False, True, False, True, False]
    assert [(e["index"], e["category"]) for e in out["errors"]] == [
        (1, "node_error"),
        (3, "node_error"),
    ]
    assert "HTTP 503 for item 1" in out["errors"][0]["message"]
    kinds = [w.event.type for w in journal.writes if hasattr(w, "event")]
    assert kinds.count("item_failed") == 2 and kinds.count("item_completed") == 3


def test_fail_stops_at_the_first_failed_item() -> None:
    fake = FakeHttp(fail={2: 9})
    rows = [{"id": i} for i in range(6)]
    record, journal = run(plan_of({**HTTP_EACH, "concurrency": 1}), {"rows": rows}, fake)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.message.startswith("item 2 failed: HTTP 503")
    assert [node_id for node_id, _ in fake.calls] == ["loop[0]", "loop[1]", "loop[2]"]
    assert item_rows(journal)["loop[2]"].status == StepStatus.FAILED


def test_a_bad_item_fails_with_what_is_wrong() -> None:
    per_item = {"type": "set", "parameters": {"values": {"v": "{{ $item.id }}"}}}
    each = {"items": [{"id": 1}, "text"], "node": per_item}
    record, _ = run(plan_of(each), {"rows": []})
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.message.startswith("item 1 failed:")
    assert record.error.category == ErrorCategory.EXPRESSION.value


def test_secrets_are_redacted_from_item_rows() -> None:
    each = {
        "items": [1, 2],
        "node": {"type": "set", "parameters": {"values": {"t": "{{ $input.token }}-{{ $item }}"}}},
    }
    record, journal = run(plan_of(each), {"rows": [], "token": "s3cr3t-value"})
    assert record.status == ExecutionStatus.COMPLETED
    text = " ".join(w.model_dump_json() for w in journal.writes)
    assert "s3cr3t-value" not in text


# --- resuming -------------------------------------------------------------------------------------


def row(node_id: str, status: StepStatus, output: Any = None, attempts: int = 1) -> StepRecord:
    ended = status not in (StepStatus.RUNNING,)
    return StepRecord(
        node_id=node_id,
        node_type="foreach" if "[" not in node_id else "http",
        status=status,
        attempts=attempts,
        started_at=T0,
        ended_at=T0 if ended else None,
        output=output,
    )


def test_a_resumed_step_reruns_only_items_that_had_not_ended() -> None:
    fake = FakeHttp()
    rows = [{"id": i} for i in range(6)]
    stored = [
        row("loop", StepStatus.RUNNING),
        row("loop[0]", StepStatus.COMPLETED, {"url": "kept-0"}),
        row("loop[1]", StepStatus.COMPLETED, {"url": "kept-1"}),
        row("loop[2]", StepStatus.RUNNING, attempts=2),  # in flight at the crash
        row("loop[4]", StepStatus.COMPLETED, {"url": "kept-4"}),
    ]
    record, _ = run(plan_of(HTTP_EACH, retry=FAST_RETRY), {"rows": rows}, fake, stored=stored)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert sorted(fake.calls) == [("loop[2]", 2), ("loop[3]", 1), ("loop[5]", 1)]
    urls = [r["url"] for r in record.outputs["loop"]["results"]]
    assert urls[:2] == ["kept-0", "kept-1"] and urls[4] == "kept-4"


def test_a_resumed_step_keeps_an_item_that_had_failed() -> None:
    fake = FakeHttp()
    failed = row("loop[1]", StepStatus.FAILED).model_copy(
        update={"error": ErrorInfo(message="gone", category="node_error")}
    )
    stored = [row("loop", StepStatus.RUNNING), row("loop[0]", StepStatus.COMPLETED, {}), failed]
    rows = [{"id": i} for i in range(3)]
    record, _ = run(plan_of(HTTP_EACH), {"rows": rows}, fake, stored=stored)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "item 1 failed: gone"
    assert fake.calls == []


def test_a_retry_execution_keeps_finished_items_of_the_failed_foreach() -> None:
    plan = plan_of(HTTP_EACH)
    failed = row("loop[1]", StepStatus.FAILED)
    steps = [
        row("loop", StepStatus.FAILED),
        row("loop[0]", StepStatus.COMPLETED, {}),
        failed,
        row("loop[2]", StepStatus.COMPLETED, {}),
    ]
    kept = {s.node_id: s.status for s in reusable_steps(plan, steps, rerun="loop")}
    assert kept == {"loop": StepStatus.PENDING, "loop[0]": "completed", "loop[2]": "completed"}
    changed = {s.node_id for s in reusable_steps(plan, steps, rerun="loop", keep_items=False)}
    assert changed == {"loop"}


# --- admission: a parent lends its slot to one child at a time ----------------------------------


def test_a_waiting_parent_lends_its_slot_to_one_child_at_a_time() -> None:
    queue = AdmissionQueue(1)
    assert queue.submit("parent")
    assert queue.lend("c1", "parent")  # on the parent's slot, beyond the limit
    assert not queue.lend("c2", "parent")  # the slot is lent already: it queues
    assert not queue.lend("c3", "parent")
    assert queue.finished("c1") == ["c2"]  # the next child of that parent takes the slot
    assert queue.finished("c2") == ["c3"]
    assert queue.finished("c3") == []
    assert queue.finished("parent") == []
    assert queue.running == set()


# --- hub show folds item rows -----------------------------------------------------------------


def test_hub_show_folds_item_rows_under_their_foreach() -> None:
    from hub.console import MAX_ITEMS_SHOWN, _folded

    failed = ErrorInfo(message="gone", category="node_error")
    steps = [
        row("loop", StepStatus.COMPLETED),
        *(
            row(f"loop[{i}]", StepStatus.COMPLETED if i % 2 else StepStatus.FAILED).model_copy(
                update={"error": None if i % 2 else failed}
            )
            for i in range(40)
        ),
        row("after", StepStatus.COMPLETED),
    ]
    shown = _folded(steps)
    assert [getattr(s, "node_id", s) for s in shown[:3]] == [
        "loop",
        "  loop[…] items: 20 completed, 20 failed",
        "loop[0]",
    ]
    assert len(shown) == 3 + MAX_ITEMS_SHOWN and getattr(shown[-1], "node_id", "") == "after"


def test_a_credential_read_per_item_is_opened_and_redacted() -> None:
    opened: list[list[str]] = []

    async def source(names: list[str]) -> dict[str, Any]:
        opened.append(list(names))
        return {"api": "tok-9f8e7d6c5b"}

    each = {
        "items": ["a", "b"],
        "node": {
            "type": "set",
            "parameters": {"values": {"h": "{{ $credential.api }}:{{ $item }}"}},
        },
    }
    plan = plan_of(each)
    record, validated = new_execution(plan, {"rows": []})
    journal = MemoryJournal()
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": validated}),
        dispatch=FakeHttp(),
        journal=journal,
        credentials=source,
    )
    final = asyncio.run(runner.run())
    assert final.status == ExecutionStatus.COMPLETED, final.error
    assert ["api"] in opened
    text = " ".join(w.model_dump_json() for w in journal.writes) + final.model_dump_json()
    assert "tok-9f8e7d6c5b" not in text


def test_items_that_are_not_a_list_fail_the_step_clearly() -> None:
    each = {**HTTP_EACH, "items": "{{ $input.token }}"}
    record, _ = run(plan_of(each), {"rows": [], "token": "a string"})
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.category == "validation"
    assert "foreach node: items: Input should be a valid list" in record.error.message
