"""hub.history: queries, cursors, percentiles and advice (pure; the store's side is in
test_store_history.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from hub.errors import InvalidRequest
from hub.history import (
    ExecutionQuery,
    NodeTypePerformance,
    SavedInputs,
    SlowStep,
    WorkflowPerformance,
    decode_cursor,
    encode_cursor,
    percentile,
    recommendations,
    success_rate,
    throughput_per_min,
)

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


# --- percentiles and rates ------------------------------------------------------------------------


def test_percentile_interpolates_linearly() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1.0  # order of the input does not matter
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([10, 20], 25) == 12.5
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_success_rate_and_throughput() -> None:
    assert success_rate(0, 0) is None
    assert success_rate(3, 1) == 0.75
    assert throughput_per_min(10, T0, T0 + timedelta(minutes=5)) == 2.0
    assert throughput_per_min(4, T0, T0) == 4.0  # an empty window: the count itself
    assert throughput_per_min(4, None, None) == 4.0


# --- queries and cursors --------------------------------------------------------------------------


def test_query_defaults_and_validation() -> None:
    q = ExecutionQuery()
    assert (q.sort, q.limit, q.status, q.cursor) == ("-created_at", 50, [], None)
    assert q.sort_field == "created_at" and q.descending
    assert not ExecutionQuery(sort="duration_ms").descending
    naive = ExecutionQuery(created_after=datetime(2025, 1, 1, 12))  # noqa: DTZ001 -- on purpose
    assert naive.created_after == T0
    plus_two = timezone(timedelta(hours=2))
    assert ExecutionQuery(created_before=datetime(2025, 1, 1, 14, tzinfo=plus_two)).created_before
    assert ExecutionQuery(error_text="").error_text is None
    for bad in ({"limit": 0}, {"limit": 1001}, {"sort": "status"}, {"colour": "red"}):
        with pytest.raises(ValidationError):
            ExecutionQuery.model_validate(bad)
    with pytest.raises(ValidationError):
        ExecutionQuery.model_validate({"status": ["sleeping"]})


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("-created_at", T0.replace(microsecond=123456)),
        ("ended_at", None),
        ("-ended_at", T0),
        ("duration_ms", 1500),
        ("-duration_ms", None),
    ],
)
def test_cursor_round_trips(sort: str, value: datetime | int | None) -> None:
    cursor = encode_cursor(sort, value, "exec-1")  # type: ignore[arg-type]
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe as is
    assert decode_cursor(cursor, sort) == (value, "exec-1")  # type: ignore[arg-type]


def test_cursor_keeps_the_instant_of_any_timezone() -> None:
    ts = datetime(2025, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    value, _ = decode_cursor(encode_cursor("created_at", ts, "x"), "created_at")
    assert value == T0 and isinstance(value, datetime) and value.tzinfo == UTC


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "Zm9v",  # base64 of "foo": not JSON
        _forged([1, 2]),
        _forged({"s": "-created_at", "k": "2025-01-01T12:00:00+00:00"}),  # no id
        _forged({"s": "-created_at", "k": None, "id": "x"}),  # created_at is never NULL
        _forged({"s": "-created_at", "k": "yesterday", "id": "x"}),
        _forged({"s": "-created_at", "k": "2025-01-01T12:00:00", "id": "x"}),  # naive
        _forged({"s": "-created_at", "k": 5, "id": "x"}),
    ],
)
def test_bad_cursors_are_invalid_requests(cursor: str) -> None:
    with pytest.raises(InvalidRequest, match="is not valid for this query; start again"):
        decode_cursor(cursor, "-created_at")


def test_a_cursor_made_for_another_sort_is_refused() -> None:
    cursor = encode_cursor("-created_at", T0, "exec-1")
    with pytest.raises(InvalidRequest, match="not valid for this query") as info:
        decode_cursor(cursor, "created_at")
    assert info.value.details["sort"] == "created_at"
    duration = encode_cursor("duration_ms", 10, "exec-1")
    with pytest.raises(InvalidRequest):
        decode_cursor(duration, "-duration_ms")
    with pytest.raises(InvalidRequest):
        decode_cursor(_forged({"s": "duration_ms", "k": "10", "id": "x"}), "duration_ms")
    with pytest.raises(InvalidRequest):
        decode_cursor(_forged({"s": "duration_ms", "k": True, "id": "x"}), "duration_ms")


# --- advice ---------------------------------------------------------------------------------------


def wf(workflow_id: str, rate: float | None, count: int = 10) -> WorkflowPerformance:
    return WorkflowPerformance(workflow_id=workflow_id, count=count, success_rate=rate)


def node(
    node_type: str,
    count: int,
    failures: int = 0,
    p50: float | None = 100.0,
    p95: float | None = 200.0,
) -> NodeTypePerformance:
    return NodeTypePerformance(
        node_type=node_type,
        count=count,
        failures=failures,
        success_rate=success_rate(count - failures, failures),
        p50_ms=p50,
        p95_ms=p95,
    )


def test_no_advice_for_a_healthy_report() -> None:
    assert recommendations([wf("a", 0.95), wf("b", None)], [node("http", 10, failures=1)]) == []
    assert recommendations([], []) == []


def test_advice_for_failing_workflows_worst_first() -> None:
    advice = recommendations([wf("ok", 0.9), wf("bad", 0.5), wf("worse", 0.25)], [])
    assert len(advice) == 2
    assert advice[0].startswith("Workflow worse succeeds in only 25% of its finished runs")
    assert "`hub errors --workflow worse`" in advice[0]
    assert advice[1].startswith("Workflow bad succeeds in only 50%")


def test_advice_for_node_types_that_fail_often() -> None:
    advice = recommendations(
        [], [node("http", 10, failures=2), node("shell", 4, failures=3), node("code", 5)]
    )
    assert advice == [
        "shell steps fail 75% of the time (3 of 4): give these nodes a retry policy for "
        "transient errors, or an on_error branch that handles the failure.",
        "http steps fail 20% of the time (2 of 10): give these nodes a retry policy for "
        "transient errors, or an on_error branch that handles the failure.",
    ]


def test_advice_for_widely_varying_step_times_names_the_slowest_steps() -> None:
    slow = [
        SlowStep(execution_id="e9", workflow_id="w", node_id="fetch", node_type="http",
                 duration_ms=30_000),
        SlowStep(execution_id="e1", workflow_id="w", node_id="x", node_type="code",
                 duration_ms=900),
    ]  # fmt: skip
    types = [
        node("http", 10, p50=200.0, p95=30_000.0),
        node("code", 10, p50=100.0, p95=1000.0),  # exactly 10x: not more than 10x
        node("wait", 10, p50=0.0, p95=2000.0),
        node("math", 10, p50=0.0, p95=999.0),  # under a second: not worth it
    ]
    advice = recommendations([], types, slow)
    assert len(advice) == 2
    assert advice[0] == (
        "wait step times vary widely (p50 0 ms, p95 2000 ms): look at the slowest steps and "
        "set timeout_s on these nodes so a stuck call fails fast."
    )
    assert advice[1] == (
        "http step times vary widely (p50 200 ms, p95 30.0 s): look at the slowest steps "
        "(slowest: fetch in execution e9) and set timeout_s on these nodes so a stuck call "
        "fails fast."
    )


def test_advice_is_deterministic_and_ordered_by_kind() -> None:
    workflows = [wf("w2", 0.5), wf("w1", 0.5)]
    types = [node("b", 5, failures=5, p50=1.0, p95=1000.0), node("a", 5, failures=5)]
    advice = recommendations(workflows, types)
    assert advice == recommendations(list(reversed(workflows)), list(reversed(types)))
    assert [a.split(" ")[:2] for a in advice] == [
        ["Workflow", "w1"],
        ["Workflow", "w2"],
        ["a", "steps"],
        ["b", "steps"],
        ["b", "step"],
    ]


# --- catalog models -------------------------------------------------------------------------------


def test_saved_inputs_validation() -> None:
    saved = SavedInputs(id="s1", workflow_id="wf", name="nightly", inputs={"n": 1})
    assert saved.created_at.tzinfo == UTC
    for bad in ({"name": ""}, {"name": "x" * 256}, {"id": ""}):
        with pytest.raises(ValidationError):
            SavedInputs.model_validate({"id": "s", "workflow_id": "wf", "name": "n", **bad})
    assert SavedInputs(id="s", workflow_id="wf", name="x" * 255).name == "x" * 255
