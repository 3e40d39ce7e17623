"""``hub errors`` and ``hub prune`` against a SQLite store in a temporary HUB_HOME."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest

from hub.cli_history import add_history_commands
from hub.errors import HubError
from hub.records import (
    CreateExecution,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
    utcnow,
)
from hub.store import Store, database_url_from_env

NOW = utcnow()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    return tmp_path


def hub(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hub")
    add_history_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def failed(
    id: str,
    *,
    hours_ago: float,
    node_id: str | None,
    message: str,
    category: str,
    workflow_id: str = "wf-a",
    status: ExecutionStatus = ExecutionStatus.FAILED,
) -> StoreWrite:
    ended = NOW - timedelta(hours=hours_ago)
    error = ErrorInfo(message=message, category=category, node_id=node_id)
    steps = []
    if node_id is not None:
        steps.append(
            StepRecord(
                node_id=node_id,
                node_type="http",
                status=StepStatus.FAILED,
                started_at=ended,
                ended_at=ended,
                error=error,
            )
        )
    return CreateExecution(
        record=ExecutionRecord(
            id=id,
            workflow_id=workflow_id,
            workflow_version="1",
            status=status,
            steps=steps,
            error=error,
            created_at=ended,
            ended_at=ended,
        )
    )


def seed(home: Path, writes: list[StoreWrite]) -> None:
    with Store(database_url_from_env(home)) as store:
        store.apply(writes)


def seed_failures(home: Path) -> None:
    seed(
        home,
        [
            failed(
                "e1",
                hours_ago=48,
                node_id="fetch",
                message="HTTP 503 from https://api.io/items?page=1",
                category="http_status",
            ),
            failed(
                "e2",
                hours_ago=2,
                node_id="fetch",
                message="HTTP 503 from https://api.io/items?page=7",
                category="http_status",
            ),
            failed(
                "e3",
                hours_ago=1,
                node_id=None,
                message="execution timed out after 60s",
                category="timeout",
                workflow_id="wf-b",
            ),
        ],
    )


# --- hub errors -----------------------------------------------------------------------------------


def test_errors_lists_patterns_most_frequent_first_with_suggestions(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_failures(home)
    assert hub("errors") == 0
    out = capsys.readouterr().out
    assert out.startswith("3 failures, 2 patterns:")
    assert out.index("wf-a / fetch") < out.index("wf-b (execution)")
    assert "    2x  http_status  wf-a / fetch" in out
    assert "HTTP 503 from https://api.io/items?<query>" in out
    assert "e.g. HTTP 503 from https://api.io/items?page=7 (execution e2)" in out
    assert "4xx means the request is wrong" in out
    assert "    1x  timeout  wf-b (execution)" in out
    assert f"first {(NOW - timedelta(hours=48)):%Y-%m-%d %H:%M:%S}Z  last " in out
    assert f"at {(NOW - timedelta(hours=1)):%Y-%m-%d %H:%M:%S}Z" in out
    assert "timeout_s" in out


def test_errors_json_and_filters(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_failures(home)
    assert hub("errors", "--json") == 0
    patterns = json.loads(capsys.readouterr().out)
    assert [(p["workflow_id"], p["node_id"], p["count"]) for p in patterns] == [
        ("wf-a", "fetch", 2),
        ("wf-b", None, 1),
    ]
    assert patterns[0]["example_execution_id"] == "e2"
    assert patterns[0]["suggestions"]
    assert hub("errors", "--json", "--since-hours", "24") == 0
    recent = json.loads(capsys.readouterr().out)
    assert [(p["node_id"], p["count"]) for p in recent] == [(None, 1), ("fetch", 1)]
    assert hub("errors", "--json", "--workflow", "wf-b") == 0
    assert [p["workflow_id"] for p in json.loads(capsys.readouterr().out)] == ["wf-b"]


def test_errors_without_failures(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hub("errors") == 0
    assert capsys.readouterr().out == "no failures recorded\n"
    seed_failures(home)
    assert hub("errors", "--workflow", "wf-c", "--since-hours", "1.5") == 0
    assert (
        capsys.readouterr().out == "no failures recorded in workflow wf-c in the last 1.5 hours\n"
    )
    with pytest.raises(HubError, match="--since-hours must be positive"):
        hub("errors", "--since-hours", "0")


# --- hub prune ------------------------------------------------------------------------------------


def test_prune_removes_old_finished_executions(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writes = [
        failed(f"old-{i}", hours_ago=24 * 40, node_id="a", message="x", category="timeout")
        for i in range(3)
    ]
    writes.append(
        failed(
            "old-running",
            hours_ago=24 * 40,
            node_id="a",
            message="x",
            category="timeout",
            status=ExecutionStatus.RUNNING,
        )
    )
    writes.append(failed("new", hours_ago=1, node_id="a", message="x", category="timeout"))
    seed(home, writes)
    assert hub("prune", "--older-than-days", "30") == 0
    assert capsys.readouterr().out == "removed 3 executions\n"
    assert hub("prune", "--keep", "0", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"removed": 1}
    with Store(database_url_from_env(home)) as store:
        assert [e.id for e in store.list_executions()] == ["old-running"]
    assert hub("prune", "--keep", "5") == 0
    assert capsys.readouterr().out == "removed 0 executions\n"


def test_prune_refuses_without_a_limit(home: Path) -> None:
    seed(home, [failed("e", hours_ago=9999, node_id=None, message="x", category="timeout")])
    with pytest.raises(HubError, match=r"^nothing to prune: give --older-than-days D and/or"):
        hub("prune")
    with pytest.raises(HubError, match="--keep must not be negative"):
        hub("prune", "--keep", "-1")
    with pytest.raises(HubError, match="--older-than-days must not be negative"):
        hub("prune", "--older-than-days", "-2")
    with Store(database_url_from_env(home)) as store:
        assert [e.id for e in store.list_executions()] == ["e"]
