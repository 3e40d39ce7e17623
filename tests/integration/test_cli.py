"""The `hub` command-line contract, run as a user runs it: a subprocess joining the session's
runtime through HUB_HOME."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HUB

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
HELLO = str(ROOT / "examples" / "hello.json")


@pytest.fixture()
def cli(runtime: Any, runtime_env: dict[str, str]) -> Any:
    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HUB, *args], env=runtime_env, capture_output=True, text=True, timeout=timeout
        )

    return run


def write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / f"{doc['id']}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_run_json_prints_the_execution_record(cli: Any) -> None:
    result = cli("run", HELLO, "-i", "name=Ada", "-i", "age=12", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) >= {
        "id",
        "workflow_id",
        "workflow_version",
        "status",
        "inputs",
        "outputs",
        "steps",
        "error",
        "started_at",
        "ended_at",
    }
    assert record["status"] == "completed"
    assert record["inputs"] == {"name": "Ada", "age": 12}  # -i values parse as JSON
    assert record["outputs"]["greeting"]["text"] == "Hello, Ada!"
    step = next(s for s in record["steps"] if s["node_id"] == "too_young")
    assert set(step) >= {
        "node_id",
        "status",
        "attempts",
        "started_at",
        "ended_at",
        "duration_ms",
        "output",
        "error",
    }
    assert step["status"] == "completed" and step["error"] is None
    assert record["started_at"].endswith("Z")

    shown = cli("show", record["id"][:10], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["outputs"] == record["outputs"]
    listed = json.loads(cli("ls", "--workflow", "hello", "--json").stdout)
    assert record["id"] in [r["id"] for r in listed]
    logs = cli("logs", record["id"])
    assert "Come back later" in logs.stdout


def test_run_exit_codes(cli: Any, tmp_path: Path) -> None:
    failing = write(
        tmp_path,
        {
            "id": f"f-{uuid.uuid4().hex[:8]}",
            "nodes": [{"id": "no", "type": "fail", "parameters": {"message": "nope"}}],
        },
    )
    result = cli("run", failing, "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["message"] == "nope"

    bad_inputs = cli("run", HELLO, "-i", "age=old")
    assert bad_inputs.returncode == 2
    assert "name" in bad_inputs.stderr and "age" in bad_inputs.stderr
    assert "Traceback" not in bad_inputs.stderr
    assert len(bad_inputs.stderr.strip().splitlines()) == 1

    invalid = write(tmp_path, {"id": "broken", "nodes": [{"id": "a", "type": "htp"}]})
    result = cli("run", invalid)
    assert result.returncode == 2 and "did you mean 'http'" in result.stderr

    assert cli("run", "no-such-workflow").returncode == 2
    assert cli("run").returncode == 2
    assert cli("run", HELLO, "--inputs", "[1]").returncode == 2


def test_progress_display_and_no_wait(cli: Any) -> None:
    result = cli("run", HELLO, "-i", "name=Bo")
    assert result.returncode == 0, result.stderr
    assert "✓ greeting" in result.stdout and "completed" in result.stdout
    queued = cli("run", "hello", "--no-wait", "-i", "name=Cy")
    assert queued.returncode == 0, queued.stderr
    execution_id = queued.stdout.strip()
    assert len(execution_id) == 32
    followed = cli("logs", execution_id, "--follow")
    assert followed.returncode == 0 and "Hello, Cy!" in followed.stdout


def test_cancel_and_status(cli: Any, tmp_path: Path) -> None:
    slow = write(
        tmp_path,
        {
            "id": f"slow-{uuid.uuid4().hex[:8]}",
            "nodes": [{"id": "wait", "type": "delay", "parameters": {"seconds": 30}}],
        },
    )
    execution_id = cli("run", slow, "--no-wait").stdout.strip()
    status = json.loads(cli("status", "--json").stdout)
    assert status["up"] is True and status["running"] >= 1
    human = cli("status")
    assert human.returncode == 0 and "ray nodes: 1 alive" in human.stdout
    cancelled = cli("cancel", execution_id[:12])
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    again = cli("cancel", execution_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr
    shown = json.loads(cli("show", execution_id, "--json").stdout)
    assert shown["status"] == "cancelled"


def test_validate_contract(cli: Any, tmp_path: Path) -> None:
    ok = cli("validate", HELLO, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"ok": True, "diagnostics": []}
    bad = write(
        tmp_path,
        {"id": "bad", "nodes": [{"id": "a", "type": "set"}], "edges": [{"from": "a", "to": "b"}]},
    )
    result = cli("validate", bad, "--json")
    assert result.returncode == 1
    [diag] = json.loads(result.stdout)["diagnostics"]
    assert diag == {
        "severity": "error",
        "code": "unknown_edge_endpoint",
        "message": "edge 'to' names unknown node 'b'",
        "path": "/edges/0/to",
        "suggestion": None,
    }
