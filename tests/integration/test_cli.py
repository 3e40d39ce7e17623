"""The `hub` command-line contract, run as a user runs it: a subprocess joining the session's
runtime through HUB_HOME (one test, `hub down` then `hub up` on the same ports, starts a runtime
of its own instead)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import HUB, free_port

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


# The error paths that need a runtime, against the README's exit codes (the rest, which need
# none, are tests/unit/test_cli_exit_codes.py): (argv, exit code, a fragment of the error).
UNKNOWN = "f" * 32
RUNTIME_CASES = {
    "run an unknown workflow id": (("run", "no-such-workflow"), 2, "not found"),
    "run an id with invalid inputs": (("run", "hello", "-i", "age=old"), 2, "name"),
    "cancel an unknown id": (("cancel", UNKNOWN), 2, "not found"),
    "pause an unknown id": (("pause", UNKNOWN), 2, "not found"),
    "retry an unknown id": (("retry", UNKNOWN), 2, "not found"),
    "rerun an unknown id": (("rerun", UNKNOWN), 2, "not found"),
    "retry a completed run": (("retry", "{completed}"), 1, "completed"),
}


@pytest.fixture(scope="module")
def completed_run(runtime: Any, runtime_env: dict[str, str]) -> str:
    done = subprocess.run(
        [HUB, "run", HELLO, "-i", "name=Ed", "--json"],
        env=runtime_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    execution_id: str = json.loads(done.stdout)["id"]
    return execution_id


@pytest.mark.parametrize("name", RUNTIME_CASES.keys())
def test_exit_codes_with_a_runtime(cli: Any, completed_run: str, name: str) -> None:
    argv, code, fragment = RUNTIME_CASES[name]
    args = [a.replace("{completed}", completed_run) for a in argv]
    done = cli(*args)
    where = f"hub {' '.join(args)}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert done.returncode == code, where
    error = done.stderr.strip().splitlines()[-1]  # the one-line error (after any warning)
    assert error.startswith("hub: error:") and fragment in error, where
    assert "Traceback" not in done.stderr, where


# --- hub down, then hub up at once on the same ports ------------------------------------------

SERVER_CLOSED = {"06", "04", "05", "07", "09"}  # TIME-WAIT, FIN-WAIT-1/2, CLOSE, LAST-ACK


def _lingering(port: int) -> set[str]:
    """TCP states (of /proc/net/tcp) of the sockets left on local ``port`` after its server
    closed them first, as a stopped server's connections are."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] in SERVER_CLOSED:
            found.add(fields[3])
    return found


@pytest.fixture
def own_runtime(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a runtime of this test's own (HUB_HOME in tmp_path): the session's
    runtime is left alone. Whatever the test left running is stopped at the end."""
    env = {
        **os.environ,
        "HUB_HOME": str(tmp_path / "home"),
        "HUB_MAX_EXECUTION_ACTORS": "2",
        "HUB_WARM_EXECUTION_ACTORS": "1",
    }
    env.pop("HUB_DATABASE_URL", None)
    yield env
    subprocess.run([HUB, "down"], env=env, capture_output=True, timeout=120)


@pytest.mark.timeout(600)
def test_up_right_after_down_on_the_same_ports(own_runtime: dict[str, str]) -> None:
    env = own_runtime
    ports = {"--port": free_port(), "--dashboard-port": free_port(), "--api-port": free_port()}
    up_args = [HUB, "up", "--json", *(str(x) for pair in ports.items() for x in pair)]

    def up() -> dict[str, Any]:
        done = subprocess.run(up_args, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"hub up failed:\n{done.stdout}\n{done.stderr}"
        info: dict[str, Any] = json.loads(done.stdout)
        return info

    env["HUB_ENABLE_CODE_NODES"] = "1"
    info = up()
    # Code nodes are on: their pool was made, and answered, before hub up returned.
    status = subprocess.run([HUB, "status", "--json"], env=env, capture_output=True, timeout=60)
    assert json.loads(status.stdout)["node_pools"] == {"code": 1}, status
    api, dashboard = info["api_url"], info["dashboard_url"]
    token = Path(info["api_token_file"]).read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    # Real traffic, as a user's scripts and browser make it: requests the servers answer and
    # then close (Connection: close), and a kept-alive connection still open at `hub down`.
    for _ in range(5):
        with httpx.Client(headers={**headers, "Connection": "close"}, timeout=60) as http:
            assert http.get(f"{api}/health").status_code == 200
            assert http.get(f"{api}/executions").status_code == 200
            http.get(f"{dashboard}/api/version")
    kept = httpx.Client(headers=headers, timeout=60)
    assert kept.get(f"{api}/workflows").status_code == 200
    try:
        down = subprocess.run([HUB, "down"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
    finally:
        kept.close()
    # The situation of the defect: the API port's old connections linger (for a minute).
    assert _lingering(ports["--api-port"]), "no connection lingers on the API port"

    again = up()
    assert again["api_url"] == api and again["dashboard_url"] == dashboard
    with httpx.Client(headers=headers, timeout=60) as http:
        assert http.get(f"{api}/health").status_code == 200
