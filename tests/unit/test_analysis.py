"""Error analysis: normalising messages, grouping failures, and reading them from the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.analysis import (
    GENERIC_SUGGESTIONS,
    SUGGESTIONS,
    ErrorPattern,
    FailureSample,
    group_failures,
    normalise_message,
    suggestions,
)
from hub.errors import ErrorCategory
from hub.records import (
    CreateExecution,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
)
from hub.store import Store
from tests.unit.test_store import db_url  # noqa: F401 -- the SQLite/PostgreSQL fixture

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


# --- suggestions ----------------------------------------------------------------------------------


def test_every_category_has_its_own_suggestions() -> None:
    for category in ErrorCategory:
        assert suggestions(category.value), category
        assert suggestions(category.value) != GENERIC_SUGGESTIONS, category
    assert set(SUGGESTIONS) == {c.value for c in ErrorCategory}
    assert "timeout_s" in " ".join(suggestions("timeout"))
    assert any("5xx" in s and "4xx" in s for s in suggestions("http_status"))


def test_unknown_category_gets_the_generic_suggestion() -> None:
    assert suggestions("something_new") == GENERIC_SUGGESTIONS


def test_suggestions_are_copies() -> None:
    suggestions("timeout").append("mutated")
    assert "mutated" not in suggestions("timeout")


# --- normalise_message ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("execution timed out after 30s", "execution timed out after <n>s"),
        ("step timed out after 2.5s.", "step timed out after <n>s."),
        ("took 120ms, limit 100 ms", "took <n>ms, limit <n> ms"),
        ("memory 1.5GB over 1024MiB limit", "memory <n>GB over <n>MiB limit"),
        ("line 12, column 5", "line <n>, column <n>"),
        ("value -5 is negative, 50% done", "value -<n> is negative, <n>% done"),
        ("commit 1234567890", "commit <n>"),
        # HTTP status and exit codes are the failure itself: kept.
        (
            "HTTP 503 Service Unavailable from https://api.example.com/v1/items?page=2&tok=ab",
            "HTTP 503 Service Unavailable from https://api.example.com/v1/items?<query>",
        ),
        (
            "unexpected status 404 for https://x.io/users/123",
            "unexpected status 404 for https://x.io/users/<n>",
        ),
        ("status: 429 too many requests", "status: 429 too many requests"),
        ("process exited with code 137", "process exited with code 137"),
        ("connection refused: 10.0.0.5:8080", "connection refused: <ip>:<n>"),
        ("cannot connect to localhost:5432", "cannot connect to localhost:<n>"),
        (
            "no key 'fo' at $.steps.fetch.output; closest key 'foo'",
            "no key '<str>' at $.steps.fetch.output; closest key '<str>'",
        ),
        ('invalid value "abc" for field "count"', 'invalid value "<str>" for field "<str>"'),
        ("can't parse Bob's reply", "can't parse Bob's reply"),
        ("execution 3f2b9c1e8a7d4e6f9b0c1d2e3f4a5b6c failed", "execution <id> failed"),
        ("request 123e4567-e89b-12d3-a456-426614174000 failed", "request <id> failed"),
        ("<object at 0x7f3a2b1c4d50> is not callable", "<object at <id>> is not callable"),
        ("at 2025-01-01T12:00:00.123456+00:00 it failed", "at <ts> it failed"),
        ("at 2025-01-01 12:00:00 and on 2024-12-31", "at <ts> and on <ts>"),
        # Identifiers that merely contain digits, and hex-letter words, are not volatile.
        ("node2, step_3 and v1.2.3 stay", "node2, step_3 and v1.2.3 stay"),
        ("deadbeef and facade stay", "deadbeef and facade stay"),
        ("  several \n  lines\tand  spaces ", "several lines and spaces"),
        ("", ""),
    ],
)
def test_normalise_message(message: str, expected: str) -> None:
    assert normalise_message(message) == expected


@given(
    seconds=st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: round(f, 3)),
    attempt=st.integers(min_value=0, max_value=10**9),
    port=st.integers(min_value=1, max_value=65535),
    key=st.text(alphabet=st.characters(blacklist_characters="'\n"), max_size=20),
)
def test_messages_differing_only_in_volatile_parts_normalise_equal(
    seconds: float, attempt: int, port: int, key: str
) -> None:
    execution_id = uuid.uuid4().hex
    message = (
        f"run {execution_id}: key '{key}' missing after {seconds}s "
        f"(attempt {attempt}, 127.0.0.1:{port})"
    )
    assert normalise_message(message) == (
        "run <id>: key '<str>' missing after <n>s (attempt <n>, <ip>:<n>)"
    )


# --- group_failures -------------------------------------------------------------------------------


def sample(
    message: str,
    *,
    minutes: int = 0,
    node_id: str | None = "fetch",
    category: str = "http_status",
    workflow_id: str = "wf",
    execution_id: str | None = None,
) -> FailureSample:
    return FailureSample(
        execution_id=execution_id or f"exec-{minutes:04d}",
        workflow_id=workflow_id,
        node_id=node_id,
        category=category,
        message=message,
        ts=T0 + timedelta(minutes=minutes),
    )


def test_group_failures_counts_alike_messages_and_orders_by_frequency() -> None:
    samples = [
        sample("HTTP 503 from https://a.io/x?id=1", minutes=0),
        sample("step timed out after 10s", minutes=1, category="timeout"),
        sample("HTTP 503 from https://a.io/x?id=2", minutes=5),
        sample("HTTP 404 from https://a.io/x?id=3", minutes=2),
        sample("HTTP 503 from https://a.io/x?id=4", minutes=3),
        sample("step timed out after 12s", minutes=4, category="timeout"),
    ]
    patterns = group_failures(samples)
    assert [(p.pattern, p.count) for p in patterns] == [
        ("HTTP 503 from https://a.io/x?<query>", 3),
        ("step timed out after <n>s", 2),
        ("HTTP 404 from https://a.io/x?<query>", 1),
    ]
    top = patterns[0]
    assert top.first_seen == T0 and top.last_seen == T0 + timedelta(minutes=5)
    assert top.example_message == "HTTP 503 from https://a.io/x?id=2"  # the newest
    assert top.example_execution_id == "exec-0005"
    assert top.suggestions == suggestions("http_status")
    assert patterns[1].suggestions == suggestions("timeout")


def test_group_failures_keeps_workflows_nodes_and_categories_apart() -> None:
    samples = [
        sample("boom", node_id="a"),
        sample("boom", node_id="b"),
        sample("boom", node_id=None),
        sample("boom", node_id="a", workflow_id="other"),
        sample("boom", node_id="a", category="node_error"),
        sample("boom", node_id="a", minutes=1),
    ]
    patterns = group_failures(samples)
    assert len(patterns) == 5
    assert patterns[0].count == 2 and patterns[0].node_id == "a"
    assert patterns[0].workflow_id == "wf" and patterns[0].category == "http_status"


def test_group_failures_ties_go_to_the_most_recent_then_a_stable_order() -> None:
    samples = [
        sample("old", minutes=0, node_id="b"),
        sample("new", minutes=9, node_id="c"),
        sample("same time", minutes=3, node_id="z"),
        sample("same time", minutes=3, node_id="a"),
    ]
    patterns = group_failures(samples)
    assert [p.node_id for p in patterns] == ["c", "a", "z", "b"]
    assert [p.node_id for p in group_failures(reversed(samples))] == ["c", "a", "z", "b"]


def test_group_failures_of_nothing() -> None:
    assert group_failures([]) == []


def test_error_pattern_serialises_to_json() -> None:
    (pattern,) = group_failures([sample("HTTP 500", node_id=None)])
    data = pattern.model_dump(mode="json")
    assert data["node_id"] is None
    assert data["first_seen"] == "2025-01-01T12:00:00Z"
    assert ErrorPattern.model_validate(data) == pattern


# --- Store.failures and Store.error_patterns ------------------------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811 -- db_url is the imported fixture
    s = Store(db_url)
    yield s
    s.close()


def failed_step(
    node_id: str,
    message: str,
    category: str,
    minutes: int,
    *,
    status: StepStatus = StepStatus.FAILED,
) -> StepRecord:
    error = ErrorInfo(message=message, category=category, node_id=node_id)
    return StepRecord(
        node_id=node_id,
        node_type="http",
        status=status,
        attempts=1,
        started_at=T0 + timedelta(minutes=minutes),
        ended_at=T0 + timedelta(minutes=minutes, seconds=1),
        error=error if status is not StepStatus.RUNNING else None,
    )


def run(
    id: str,
    minutes: int,
    steps: list[StepRecord],
    *,
    status: ExecutionStatus = ExecutionStatus.FAILED,
    error: ErrorInfo | None = None,
    workflow_id: str = "wf-a",
) -> StoreWrite:
    return CreateExecution(
        record=ExecutionRecord(
            id=id,
            workflow_id=workflow_id,
            workflow_version="1",
            status=status,
            steps=steps,
            error=error,
            created_at=T0 + timedelta(minutes=minutes),
            ended_at=T0 + timedelta(minutes=minutes, seconds=30),
        )
    )


def seed_failures(store: Store) -> None:
    timeout = ErrorInfo(message="execution timed out after 60s", category="timeout")
    store.apply(
        [
            run(
                "e1", 0, [failed_step("fetch", "HTTP 503 from https://a.io?x=1", "http_status", 0)]
            ),
            run(
                "e2",
                10,
                [failed_step("fetch", "HTTP 503 from https://a.io?x=2", "http_status", 10)],
            ),
            # The execution's error names the failed step: counted once, as the step.
            run(
                "e3",
                20,
                [failed_step("parse", "no key 'a'", "expression", 20)],
                error=ErrorInfo(message="no key 'a'", category="expression", node_id="parse"),
            ),
            # Outside any step: the execution timeout.
            run("e4", 30, [], error=timeout, workflow_id="wf-b"),
            # A runtime fault while step b still ran: only the execution's error records it.
            run(
                "e5",
                40,
                [failed_step("b", "", "node_error", 40, status=StepStatus.RUNNING)],
                error=ErrorInfo(
                    message="runtime error in step b", category="node_error", node_id="b"
                ),
            ),
            # A failed step whose execution went on (on_error: continue) and completed.
            run(
                "e6",
                50,
                [failed_step("notify", "SMTP down", "connection", 50)],
                status=ExecutionStatus.COMPLETED,
            ),
            # Neither completed nor cancelled steps, nor cancelled executions, are failures.
            run(
                "e7",
                60,
                [failed_step("x", "step cancelled", "cancelled", 60, status=StepStatus.CANCELLED)],
                status=ExecutionStatus.CANCELLED,
                error=ErrorInfo(message="cancelled by user", category="cancelled"),
            ),
        ]
    )


def test_failures_newest_first_with_where_they_happened(store: Store) -> None:
    seed_failures(store)
    got = store.failures()
    assert [(f.execution_id, f.node_id, f.category) for f in got] == [
        ("e6", "notify", "connection"),
        ("e5", "b", "node_error"),
        ("e4", None, "timeout"),
        ("e3", "parse", "expression"),
        ("e2", "fetch", "http_status"),
        ("e1", "fetch", "http_status"),
    ]
    by_id = {f.execution_id: f for f in got}
    assert by_id["e4"].workflow_id == "wf-b"
    assert by_id["e4"].message == "execution timed out after 60s"
    assert by_id["e4"].ts == T0 + timedelta(minutes=30, seconds=30)  # the execution's end
    assert by_id["e5"].message == "runtime error in step b"
    assert by_id["e2"].message == "HTTP 503 from https://a.io?x=2"
    assert by_id["e2"].ts == T0 + timedelta(minutes=10, seconds=1)  # the step's end
    assert by_id["e2"].ts.tzinfo is not None


def test_failures_filters(store: Store) -> None:
    seed_failures(store)
    since = T0 + timedelta(minutes=20)
    assert [f.execution_id for f in store.failures(since=since)] == ["e6", "e5", "e4", "e3"]
    assert [f.execution_id for f in store.failures(workflow_id="wf-b")] == ["e4"]
    assert [f.execution_id for f in store.failures(workflow_id="wf-a", limit=2)] == ["e6", "e5"]
    assert store.failures(workflow_id="unknown") == []
    assert store.failures(since=T0 + timedelta(days=1)) == []


def test_error_patterns_group_what_the_store_recorded(store: Store) -> None:
    assert store.error_patterns() == []
    seed_failures(store)
    patterns = store.error_patterns()
    top = patterns[0]
    assert (top.workflow_id, top.node_id, top.category, top.count) == (
        "wf-a",
        "fetch",
        "http_status",
        2,
    )
    assert top.pattern == "HTTP 503 from https://a.io?<query>"
    assert top.example_execution_id == "e2"
    assert top.first_seen == T0 + timedelta(seconds=1)
    assert len(patterns) == 5
    assert [p.count for p in store.error_patterns(workflow_id="wf-b")] == [1]
    assert store.error_patterns(since=T0 + timedelta(minutes=5))[0].count == 1
