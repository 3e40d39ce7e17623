"""The store's history features on SQLite and PostgreSQL: searching with keyset pages,
statistics, performance, deleting executions and workflows, log search, saved inputs, the audit
log and credentials."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.errors import InvalidRequest, NotFound
from hub.history import ExecutionQuery, SavedInputs, encode_cursor
from hub.recording import EventWatch, GroupCommitter
from hub.records import (
    AppendAudit,
    AuditEntry,
    CreateExecution,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
)
from hub.store import Store
from hub.store import _schema as t
from tests.unit.test_recording import commit, run_with_committer
from tests.unit.test_store import db_url, event, log, workflow  # noqa: F401 -- db_url: fixture

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
S = ExecutionStatus
CHILD_TABLES = (t.steps, t.events, t.logs, t.metrics)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811 -- db_url is the imported fixture
    s = Store(db_url)
    yield s
    s.close()


def execution(
    id: str,
    status: ExecutionStatus = S.COMPLETED,
    *,
    workflow_id: str = "wf-a",
    minute: float = 0,
    duration_ms: int | None = None,
    ended: bool | None = None,
    error: str | None = None,
    steps: list[StepRecord] | None = None,
    **kw: Any,
) -> CreateExecution:
    """An execution created ``minute`` minutes after T0, started then, ending ``duration_ms``
    later (when given)."""
    created = T0 + timedelta(minutes=minute)
    started = created if duration_ms is not None else kw.pop("started_at", None)
    end = None if duration_ms is None else created + timedelta(milliseconds=duration_ms)
    if ended and end is None:
        end = created
    return CreateExecution(
        record=ExecutionRecord(
            id=id,
            workflow_id=workflow_id,
            workflow_version="1",
            status=status,
            created_at=created,
            started_at=started,
            ended_at=end,
            error=None if error is None else ErrorInfo(message=error, category="node_error"),
            steps=steps or [],
            **kw,
        )
    )


def step(
    node_id: str,
    status: StepStatus = StepStatus.COMPLETED,
    *,
    node_type: str = "http",
    start_ms: int = 0,
    duration_ms: int | None = None,
    error: str | None = None,
) -> StepRecord:
    started = T0 + timedelta(milliseconds=start_ms)
    return StepRecord(
        node_id=node_id,
        node_type=node_type,
        status=status,
        started_at=started if status is not StepStatus.SKIPPED else None,
        ended_at=None if duration_ms is None else started + timedelta(milliseconds=duration_ms),
        error=None if error is None else ErrorInfo(message=error, category="connection"),
    )


def ids(executions: list[ExecutionRecord]) -> list[str]:
    return [e.id for e in executions]


def search(store: Store, **query: Any) -> list[str]:
    return ids(store.search_executions(ExecutionQuery(**query)).items)


def all_pages(store: Store, query: ExecutionQuery, between: Any = None) -> list[str]:
    seen: list[str] = []
    while True:
        page = store.search_executions(query)
        assert len(page.items) <= query.limit
        seen += ids(page.items)
        if page.next_cursor is None:
            return seen
        assert len(page.items) == query.limit
        if between is not None:
            between()
        query = query.model_copy(update={"cursor": page.next_cursor})


# A small history whose numbers are worked out by hand in the tests below.
HISTORY: list[StoreWrite] = [
    execution("c1", S.COMPLETED, minute=0, duration_ms=1000),
    execution("c2", S.COMPLETED, minute=1, duration_ms=3000, trigger="schedule"),
    execution(
        "f1",
        S.FAILED,
        minute=2,
        duration_ms=2000,
        error="HTTP 503 Service Unavailable",
        steps=[step("fetch", StepStatus.FAILED, duration_ms=10, error="Connection timed OUT")],
    ),
    execution("x1", S.CANCELLED, workflow_id="wf-b", minute=3, duration_ms=4000, parent_id="c1"),
    execution("r1", S.RUNNING, workflow_id="wf-b", minute=4, started_at=T0),
    execution("q1", S.QUEUED, workflow_id="wf-b", minute=5),
    execution("f2", S.FAILED, workflow_id="wf-b", minute=6, ended=True, error="only 50% done"),
]


# --- searching ------------------------------------------------------------------------------------


def test_search_newest_first_by_default_without_steps(store: Store) -> None:
    store.apply(HISTORY)
    page = store.search_executions(ExecutionQuery())
    assert ids(page.items) == ["f2", "q1", "r1", "x1", "f1", "c2", "c1"]
    assert page.next_cursor is None
    assert all(e.steps == [] for e in page.items)
    f1 = page.items[4]
    assert f1.error is not None and f1.error.message == "HTTP 503 Service Unavailable"
    assert f1.created_at == T0 + timedelta(minutes=2) and f1.created_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": ["completed", "cancelled"]}, ["x1", "c2", "c1"]),
        ({"status": ["paused"]}, []),
        ({"workflow_id": "wf-a"}, ["f1", "c2", "c1"]),
        ({"trigger": "schedule"}, ["c2"]),
        ({"parent_id": "c1"}, ["x1"]),
        ({"created_after": T0 + timedelta(minutes=5)}, ["f2", "q1"]),  # inclusive
        ({"created_before": T0 + timedelta(minutes=1)}, ["c1"]),  # exclusive
        (
            {
                "created_after": T0 + timedelta(minutes=1),
                "created_before": T0 + timedelta(minutes=3),
            },
            ["f1", "c2"],
        ),
        ({"error_text": "service UNAVAILABLE"}, ["f1"]),  # the execution's error
        ({"error_text": "timed out"}, ["f1"]),  # a step's error
        ({"error_text": "50%"}, ["f2"]),  # % is no wildcard ("HTTP 503" must not match)
        ({"error_text": "HTTP_503"}, []),  # nor is _
        ({"error_text": "nothing like this"}, []),
        ({"workflow_id": "wf-b", "status": ["failed", "queued"]}, ["f2", "q1"]),
        ({"workflow_id": "wf-a", "error_text": "503", "status": ["completed"]}, []),
    ],
)
def test_search_filters(store: Store, query: dict[str, Any], expected: list[str]) -> None:
    store.apply(HISTORY)
    assert search(store, **query) == expected


def test_sort_by_end_and_duration_puts_those_without_last(store: Store) -> None:
    store.apply(HISTORY)
    # f2 ended at minute 6 but never started: it has an end and no duration.
    # Ties (no value) go by id, in the direction of the sort.
    assert search(store, sort="ended_at") == ["c1", "c2", "f1", "x1", "f2", "q1", "r1"]
    assert search(store, sort="-ended_at") == ["f2", "x1", "f1", "c2", "c1", "r1", "q1"]
    assert search(store, sort="duration_ms") == ["c1", "f1", "c2", "x1", "f2", "q1", "r1"]
    assert search(store, sort="-duration_ms") == ["x1", "c2", "f1", "c1", "r1", "q1", "f2"]
    assert search(store, sort="created_at", limit=2) == ["c1", "c2"]


def _many() -> tuple[list[StoreWrite], dict[str, dict[str, Any]]]:
    """60 executions with many ties in every sort key and some without end or duration."""
    writes: list[StoreWrite] = []
    keys: dict[str, dict[str, Any]] = {}
    for i in range(60):
        id_ = f"e{(i * 37) % 60:02d}"  # ids not in creation order
        minute = i // 7
        duration = None if i % 5 == 0 else (i % 4) * 250
        writes.append(
            execution(id_, S.COMPLETED if duration is not None else S.RUNNING, minute=minute,
                      duration_ms=duration)
        )  # fmt: skip
        created = T0 + timedelta(minutes=minute)
        keys[id_] = {
            "created_at": created,
            "ended_at": None if duration is None else created + timedelta(milliseconds=duration),
            "duration_ms": duration,
        }
    return writes, keys


def _expected(keys: dict[str, dict[str, Any]], sort: str) -> list[str]:
    field, desc = sort.lstrip("-"), sort.startswith("-")
    having = sorted(
        (k for k in keys if keys[k][field] is not None),
        key=lambda k: (keys[k][field], k),
        reverse=desc,
    )
    without = sorted((k for k in keys if keys[k][field] is None), reverse=desc)
    return having + without


@pytest.mark.parametrize(
    "sort", ["created_at", "-created_at", "ended_at", "-ended_at", "duration_ms", "-duration_ms"]
)
def test_paging_visits_every_execution_once_in_a_stable_order(store: Store, sort: str) -> None:
    writes, keys = _many()
    store.apply(writes)
    expected = _expected(keys, sort)
    assert len(set(expected)) == 60
    for limit in (1, 7, 60, 61):
        assert all_pages(store, ExecutionQuery(sort=sort, limit=limit)) == expected  # type: ignore[arg-type]
    filtered = [k for k in expected if keys[k]["created_at"] >= T0 + timedelta(minutes=3)]
    query = ExecutionQuery(sort=sort, limit=4, created_after=T0 + timedelta(minutes=3))  # type: ignore[arg-type]
    assert all_pages(store, query) == filtered


def test_paging_newest_first_while_new_executions_arrive(store: Store) -> None:
    writes, keys = _many()
    store.apply(writes)
    expected = _expected(keys, "-created_at")
    stop = threading.Event()
    added: list[str] = []

    def insert_now(id_: str, minute: int) -> None:
        # New executions are created "now": later than everything already there.
        store.apply([execution(id_, S.QUEUED, minute=minute)])
        added.append(id_)

    def keep_inserting() -> None:
        for n in range(500):
            if stop.is_set():
                return
            insert_now(f"new-w{n:03d}", 1000 + n)

    worker = threading.Thread(target=keep_inserting)
    between = iter(range(100))

    def next_page_soon() -> None:
        n = next(between)
        if n == 0:  # after the first page: inserts race with every later page
            worker.start()
        insert_now(f"new-p{n:03d}", 600 + n)

    try:
        seen = all_pages(store, ExecutionQuery(limit=6), between=next_page_soon)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
    assert seen == expected
    assert len(added) >= 9  # the history grew while paging: at least once between pages
    everything = all_pages(store, ExecutionQuery(limit=50))
    assert sorted(everything[: len(added)]) == sorted(added)  # the new ones now come first
    assert everything[len(added) :] == expected


def test_cursors_of_another_sort_or_garbage_are_invalid_requests(store: Store) -> None:
    store.apply(HISTORY)
    page = store.search_executions(ExecutionQuery(limit=2))
    assert page.next_cursor is not None
    with pytest.raises(InvalidRequest, match="start again without it"):
        store.search_executions(ExecutionQuery(sort="created_at", cursor=page.next_cursor))
    with pytest.raises(InvalidRequest, match="is not valid for this query"):
        store.search_executions(ExecutionQuery(cursor="not-a-cursor"))
    # A well-formed cursor positions the page, whether or not its execution still exists.
    cursor = encode_cursor("-created_at", T0 + timedelta(minutes=3), "zzz")
    assert search(store, cursor=cursor) == ["x1", "f1", "c2", "c1"]
    assert ids(store.search_executions(ExecutionQuery(limit=2, cursor=page.next_cursor)).items) == [
        "r1",
        "x1",
    ]


# --- statistics -----------------------------------------------------------------------------------


def test_stats_of_a_known_history(store: Store) -> None:
    store.apply(HISTORY)
    stats = store.execution_stats(ExecutionQuery())
    assert stats.total == 7
    assert stats.by_status == {
        "queued": 1,
        "running": 1,
        "paused": 0,
        "completed": 2,
        "failed": 2,
        "cancelled": 1,
    }
    assert stats.success_rate == pytest.approx(2 / 5)
    # Durations of finished executions with a start and an end: 1000, 3000, 2000, 4000 ms.
    assert stats.p50_ms == pytest.approx(2500)
    assert stats.p95_ms == pytest.approx(3850)


def test_stats_use_the_filters_and_ignore_paging(store: Store) -> None:
    store.apply(HISTORY)
    a = store.execution_stats(ExecutionQuery(workflow_id="wf-a", limit=1, sort="duration_ms"))
    assert (a.total, a.by_status["completed"], a.by_status["failed"]) == (3, 2, 1)
    assert a.success_rate == pytest.approx(2 / 3)
    assert a.p50_ms == pytest.approx(2000) and a.p95_ms == pytest.approx(2900)
    unfinished = store.execution_stats(ExecutionQuery(status=["queued", "running"]))
    assert unfinished.total == 2
    assert (unfinished.success_rate, unfinished.p50_ms, unfinished.p95_ms) == (None, None, None)
    empty = store.execution_stats(ExecutionQuery(error_text="no such error"))
    assert empty.total == 0 and set(empty.by_status.values()) == {0}
    assert len(empty.by_status) == len(ExecutionStatus)


# --- deleting executions --------------------------------------------------------------------------


def _child_rows(store: Store, execution_ids: list[str]) -> dict[str, int]:
    with store._engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.execution_id.in_(execution_ids))
            ).scalar_one()
            for table in CHILD_TABLES
        }


def test_delete_executions_keeps_unfinished_ones(store: Store) -> None:
    store.apply(
        [
            *HISTORY,
            *(event(e, 1) for e in ("c1", "f1", "r1")),
            *(log(e, 2, "info", "hello") for e in ("c1", "f1", "r1")),
            execution("p1", S.PAUSED, minute=9, steps=[step("a", StepStatus.RUNNING)]),
        ]
    )
    with store._engine.begin() as conn:
        conn.execute(
            t.metrics.insert(),
            [
                {"execution_id": e, "name": "ms", "value": 1.0, "tags": {}, "ts": T0}
                for e in ("c1", "f1", "r1")
            ],
        )
    result = store.delete_executions(["f1", "r1", "nope", "c1", "q1", "f1", "p1"])
    assert result.deleted == ["f1", "c1"]
    assert result.unfinished == ["r1", "q1", "p1"]
    assert result.not_found == ["nope"]
    assert search(store) == ["p1", "f2", "q1", "r1", "x1", "c2"]
    assert _child_rows(store, ["c1", "f1"]) == {table.name: 0 for table in CHILD_TABLES}
    assert _child_rows(store, ["r1"]) == {
        "step_executions": 0,
        "execution_events": 2,
        "execution_logs": 1,
        "execution_metrics": 1,
    }
    assert [s.node_id for s in store.get_execution("p1").steps] == ["a"]
    again = store.delete_executions(["c1"])
    assert (again.deleted, again.unfinished, again.not_found) == ([], [], ["c1"])
    assert store.delete_executions([]).deleted == []


def test_delete_many_executions(store: Store) -> None:
    store.apply([execution(f"d{i:04d}", S.COMPLETED, minute=i) for i in range(1200)])
    result = store.delete_executions([f"d{i:04d}" for i in range(1100)])
    assert len(result.deleted) == 1100
    assert store.execution_stats(ExecutionQuery()).total == 100


# --- performance ----------------------------------------------------------------------------------


PERF_HISTORY: list[StoreWrite] = [
    execution(
        "c1",
        S.COMPLETED,
        minute=0,
        duration_ms=1000,
        steps=[
            step("fetch", duration_ms=100),
            step("calc", node_type="code", start_ms=100, duration_ms=10),
        ],
    ),
    execution(
        "c2",
        S.COMPLETED,
        minute=1,
        duration_ms=3000,
        steps=[
            step("fetch", duration_ms=300),
            step("calc", node_type="code", start_ms=300, duration_ms=20),
        ],
    ),
    execution(
        "f1",
        S.FAILED,
        minute=2,
        duration_ms=2000,
        steps=[
            step("fetch", StepStatus.FAILED, duration_ms=5000, error="timed out"),
            step("calc", StepStatus.SKIPPED, node_type="code"),
        ],
    ),
    execution(
        "x1",
        S.CANCELLED,
        workflow_id="wf-b",
        minute=3,
        duration_ms=4000,
        steps=[step("fetch", StepStatus.CANCELLED, duration_ms=800)],
    ),
    execution(
        "r1",
        S.RUNNING,
        workflow_id="wf-b",
        minute=4,
        started_at=T0,
        steps=[step("fetch", StepStatus.RUNNING)],
    ),
]


def test_performance_of_a_known_history(store: Store) -> None:
    store.apply(PERF_HISTORY)
    report = store.performance()
    a, b = report.workflows
    assert (a.workflow_id, a.count) == ("wf-a", 3)
    assert a.success_rate == pytest.approx(2 / 3)
    assert (a.p50_ms, a.p95_ms) == (pytest.approx(2000), pytest.approx(2900))
    assert a.throughput_per_min == pytest.approx(1.5)  # 3 created over 2 minutes
    assert (b.workflow_id, b.count, b.success_rate) == ("wf-b", 2, 0.0)
    assert (b.p50_ms, b.p95_ms) == (pytest.approx(4000), pytest.approx(4000))
    assert b.throughput_per_min == pytest.approx(2.0)  # 2 created over 1 minute

    code, http = report.node_types
    assert (code.node_type, code.count, code.failures, code.success_rate) == ("code", 2, 0, 1.0)
    assert (code.p50_ms, code.p95_ms) == (pytest.approx(15), pytest.approx(19.5))
    assert (http.node_type, http.count, http.failures) == ("http", 3, 1)  # cancelled: not counted
    assert http.success_rate == pytest.approx(2 / 3)
    assert (http.p50_ms, http.p95_ms) == (pytest.approx(300), pytest.approx(4530))

    assert [(s.execution_id, s.node_id, s.duration_ms) for s in report.slowest_steps] == [
        ("f1", "fetch", 5000),
        ("x1", "fetch", 800),
        ("c2", "fetch", 300),
        ("c1", "fetch", 100),
        ("c2", "calc", 20),
        ("c1", "calc", 10),
    ]
    assert report.slowest_steps[1].workflow_id == "wf-b"
    assert [r.split(":")[0] for r in report.recommendations] == [
        "Workflow wf-b succeeds in only 0% of its finished runs",
        "Workflow wf-a succeeds in only 67% of its finished runs",
        "http steps fail 33% of the time (1 of 3)",
        "http step times vary widely (p50 300 ms, p95 4530 ms)",
    ]
    assert "f1" in report.recommendations[3]


def test_performance_for_one_workflow_and_a_window(store: Store) -> None:
    store.apply(PERF_HISTORY)
    report = store.performance(workflow_id="wf-a")
    assert [w.workflow_id for w in report.workflows] == ["wf-a"]
    assert [(n.node_type, n.count) for n in report.node_types] == [("code", 2), ("http", 3)]
    assert "x1" not in {s.execution_id for s in report.slowest_steps}

    since = T0 + timedelta(minutes=1)
    recent = store.performance(since=since, now=since + timedelta(minutes=10))
    assert [(w.workflow_id, w.count) for w in recent.workflows] == [("wf-a", 2), ("wf-b", 2)]
    assert [w.throughput_per_min for w in recent.workflows] == [
        pytest.approx(0.2),
        pytest.approx(0.2),
    ]
    assert [(n.node_type, n.count) for n in recent.node_types] == [("code", 1), ("http", 2)]
    empty = store.performance(workflow_id="nope")
    assert (empty.workflows, empty.node_types, empty.slowest_steps) == ([], [], [])
    assert empty.recommendations == []


# --- logs -----------------------------------------------------------------------------------------


def test_log_search_ignores_case_and_wildcards(store: Store) -> None:
    store.apply(
        [
            log("e1", 1, "info", "Fetching https://example.com"),
            log("e1", 2, "error", "fetch FAILED: 50% of packets lost"),
            log("e1", 3, "info", "done, 5 items"),
            log("e2", 1, "info", "fetch elsewhere"),
        ]
    )
    assert [e.seq for e in store.logs("e1", search="FETCH")] == [1, 2]
    assert [e.seq for e in store.logs("e1", search="50%")] == [2]
    assert [e.seq for e in store.logs("e1", search="5%")] == []
    assert [e.seq for e in store.logs("e1", search="fetch", level="error")] == [2]
    assert [e.seq for e in store.logs("e1", search="fetch", after_seq=1)] == [2]
    assert [e.seq for e in store.logs("e1", search="")] == [1, 2, 3]


# --- workflows ------------------------------------------------------------------------------------


def test_delete_workflow_versions_keeps_executions(store: Store) -> None:
    store.save_workflow(workflow("wf-a", "1", created_at=T0))
    store.save_workflow(workflow("wf-a", "2", created_at=T0 + timedelta(1)))
    store.save_workflow(workflow("other", "1"))
    store.apply(HISTORY)
    assert store.delete_workflow("wf-a", "1") == 1
    assert store.workflow_versions("wf-a") == ["2"]
    with pytest.raises(NotFound, match=r"has no version '9' \(known versions: 2\)"):
        store.delete_workflow("wf-a", "9")
    assert store.delete_workflow("wf-a") == 1
    with pytest.raises(NotFound, match="workflow 'wf-a' not found"):
        store.get_workflow("wf-a")
    with pytest.raises(NotFound, match="workflow 'wf-a' not found"):
        store.delete_workflow("wf-a")
    assert [w.id for w in store.list_workflows()] == ["other"]
    assert search(store, workflow_id="wf-a") == ["f1", "c2", "c1"]
    store.save_workflow(workflow("two", "1"))
    store.save_workflow(workflow("two", "2"))
    assert store.delete_workflow("two") == 2


# --- saved inputs ---------------------------------------------------------------------------------


def test_saved_inputs_crud(store: Store) -> None:
    nightly = SavedInputs(id="s1", workflow_id="wf", name="nightly", inputs={"n": 1}, created_at=T0)
    store.save_inputs(nightly)
    store.save_inputs(SavedInputs(id="s2", workflow_id="wf", name="adhoc", inputs={"q": [1, 2]}))
    store.save_inputs(SavedInputs(id="s3", workflow_id="other", name="aaa"))
    assert [s.name for s in store.list_saved_inputs("wf")] == ["adhoc", "nightly"]
    assert store.get_saved_inputs("s1") == nightly
    assert store.get_saved_inputs("s2").inputs == {"q": [1, 2]}

    weekly = nightly.model_copy(update={"name": "weekly", "inputs": {"n": 7}})
    assert store.save_inputs(weekly) == weekly
    assert store.get_saved_inputs("s1") == weekly
    assert [(s.id, s.name) for s in store.list_saved_inputs("wf")] == [
        ("s2", "adhoc"),
        ("s1", "weekly"),
    ]

    store.delete_saved_inputs("s2")
    assert [s.id for s in store.list_saved_inputs("wf")] == ["s1"]
    with pytest.raises(NotFound, match="saved inputs 's2' not found"):
        store.delete_saved_inputs("s2")
    with pytest.raises(NotFound, match="saved inputs 's2' not found"):
        store.get_saved_inputs("s2")
    assert store.list_saved_inputs("nobody") == []


# --- audit log ------------------------------------------------------------------------------------


def audit(action: str, target: str | None = None, **details: Any) -> AppendAudit:
    return AppendAudit(
        entry=AuditEntry(actor="alice", action=action, target=target, ts=T0, details=details)
    )


def test_audit_entries_newest_first_with_filters_and_paging(store: Store) -> None:
    store.apply(
        [
            audit("workflow.save", "wf-a", version="1"),
            execution("c1"),
            audit("execution.run", "c1"),
            audit("workflow.save", "wf-b"),
        ]
    )
    store.apply([audit("execution.cancel", "c1"), audit("credential.set", "token")])
    entries = store.audit_entries()
    assert [(e.action, e.target) for e in entries] == [
        ("credential.set", "token"),
        ("execution.cancel", "c1"),
        ("workflow.save", "wf-b"),
        ("execution.run", "c1"),
        ("workflow.save", "wf-a"),
    ]
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    oldest = entries[-1]
    assert (oldest.actor, oldest.ts, oldest.details) == ("alice", T0, {"version": "1"})

    first = store.audit_entries(limit=2)
    assert first == entries[:2]
    assert store.audit_entries(limit=2, before_id=first[-1].id) == entries[2:4]
    assert store.audit_entries(before_id=entries[-1].id) == []
    assert [e.target for e in store.audit_entries(action="workflow.save")] == ["wf-b", "wf-a"]
    assert [e.action for e in store.audit_entries(target="c1")] == [
        "execution.cancel",
        "execution.run",
    ]
    assert store.audit_entries(action="workflow.save", target="c1") == []
    for bad in (0, 1001):
        with pytest.raises(InvalidRequest, match="limit must be between 1 and 1000"):
            store.audit_entries(limit=bad)


def test_audit_entries_are_group_committed_by_the_recorder(store: Store) -> None:
    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        committer.submit([audit("one"), execution("c1")], wait=False)
        await commit(committer, [audit("two", "c1"), audit("three")])

    run_with_committer(store, body)
    assert [e.action for e in store.audit_entries()] == ["three", "two", "one"]
    assert store.get_execution("c1").id == "c1"


# --- credentials ----------------------------------------------------------------------------------


def test_credentials_store_ciphertext_and_list_only_names(store: Store) -> None:
    store.set_credential("token", b"\x00secret-1\xff")
    store.set_credential("api-key", b"secret-2")
    infos = store.credential_names()
    assert [c.name for c in infos] == ["api-key", "token"]
    dumped = [c.model_dump() for c in infos]
    assert all(set(d) == {"name", "created_at", "updated_at"} for d in dumped)
    assert "secret" not in repr(dumped)
    assert all(c.created_at.tzinfo == UTC for c in infos)
    assert store.get_credential("token") == b"\x00secret-1\xff"

    first = infos[1]
    store.set_credential("token", b"rotated")
    again = {c.name: c for c in store.credential_names()}["token"]
    assert again.created_at == first.created_at
    assert again.updated_at >= first.updated_at
    assert store.get_credential("token") == b"rotated"

    store.delete_credential("token")
    assert [c.name for c in store.credential_names()] == ["api-key"]
    with pytest.raises(NotFound, match="credential 'token' not found"):
        store.get_credential("token")
    with pytest.raises(NotFound, match="credential 'token' not found"):
        store.delete_credential("token")
    with pytest.raises(InvalidRequest, match="needs a name"):
        store.set_credential("", b"x")


def test_bounds_past_the_id_columns_range_page_nothing_away(store: Store) -> None:
    """Regression (Schemathesis on PostgreSQL): the API takes any 64-bit id as a bound, and
    PostgreSQL cast `before_id=9223372036854775806` to INTEGER and failed out of range (503)."""
    store.apply([execution("c1"), audit("execution.run", "c1")])
    store.apply([log("c1", 1, "info", "hello")])
    huge = 2**63 - 2
    assert [e.action for e in store.audit_entries(before_id=huge)] == ["execution.run"]
    assert store.events_after("c1", after_seq=huge) == []
    assert store.logs("c1", after_seq=huge) == []
    assert [e.seq for e in store.events_after("c1", after_seq=0)] == [1]
