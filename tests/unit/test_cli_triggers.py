"""What ``hub triggers ls`` and ``hub status`` print of triggers, from views and summaries
(the commands themselves run against a runtime in tests/integration/test_triggers_cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.cli_triggers import status_line, table, when
from hub.triggers._state import TriggerView

NOW = datetime(2025, 3, 30, 12, 0, 0, tzinfo=UTC)


def view(trigger_id: str, **fields: object) -> TriggerView:
    base: dict[str, object] = {
        "workflow_id": "orders",
        "trigger_id": trigger_id,
        "type": "schedule",
        "enabled": True,
        "state": "running",
    }
    return TriggerView.model_validate(base | fields)


def test_times_read_as_a_clock_and_a_distance() -> None:
    assert when(None, NOW) == "-"
    assert when(NOW + timedelta(seconds=2.5), NOW) == "12:00:02Z (in 2s)"
    assert when(NOW - timedelta(minutes=5, seconds=3), NOW) == "11:54:57Z (5m ago)"
    assert when(NOW + timedelta(milliseconds=300), NOW) == "12:00:00Z (now)"
    # Another day shows its date; an ISO string (a JSON summary) reads the same.
    assert when("2025-03-31T13:00:00Z", NOW) == "2025-03-31 13:00:00Z (in 1d)"
    paris = datetime(2025, 3, 30, 15, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert when(paris, NOW) == "15:00:00Z (in 3h)"  # shown in UTC, whatever its zone


def test_ls_table_has_a_column_per_field_aligned() -> None:
    rows = table(
        [
            view(
                "every2",
                next_fire_at=NOW + timedelta(seconds=2),
                last_fired_at=NOW - timedelta(seconds=1),
                fires=12,
                skipped=3,
            ),
            view(
                "hook",
                type="webhook",
                state="idle",
                last_error="the body cannot become the inputs: " + "x" * 100,
                breaker="open",
            ),
            view("nightly", enabled=False, state="disabled"),
        ],
        NOW,
    )
    header, every2, hook, nightly = rows
    assert header.split() == [
        "workflow",
        "trigger",
        "type",
        "state",
        "next",
        "fire",
        "last",
        "fire",
        "fires",
        "skipped",
        "last",
        "error/breaker",
    ]
    assert every2.split() == [
        "orders",
        "every2",
        "schedule",
        "running",
        "12:00:02Z",
        "(in",
        "2s)",
        "11:59:59Z",
        "(1s",
        "ago)",
        "12",
        "3",
        "-",
    ]
    # Columns line up: each starts where its header does.
    for label, value in (("state", "idle"), ("fires", "0"), ("last error/breaker", "breaker")):
        assert hook.index(value) == header.index(label)
    assert hook.endswith("…") and len(hook) - hook.index("breaker open; ") <= 14 + 60
    assert nightly.split()[3:6] == ["disabled", "-", "-"]


def test_status_line() -> None:
    assert status_line(None) == "  triggers: none"
    assert status_line({"unavailable": "no trigger service"}) == "  triggers: no trigger service"
    assert status_line({"total": 0, "by_state": {}, "next_fire_at": None, "errors": []}) == (
        "  triggers: none (a workflow declares them in its 'triggers')"
    )
    summary = {
        "total": 4,
        "by_state": {"running": 2, "disabled": 1, "error": 1},
        "next_fire_at": "2025-03-30T12:00:05Z",
        "errors": ["orders/queue: cannot connect to amqp://127.0.0.1:5672/"],
    }
    assert status_line(summary, NOW).splitlines() == [
        "  triggers: 4 (1 disabled, 1 error, 2 running); next fire 12:00:05Z (in 5s)",
        "    error: orders/queue: cannot connect to amqp://127.0.0.1:5672/",
    ]
