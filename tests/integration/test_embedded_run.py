"""`hub run` with no runtime up, as the README's first command runs it: an embedded runtime
lives for the one run. A short run does not wait for the HTTP API; a run that lasts gets it, and
the API answers while the run goes on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import HUB

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """A HUB_HOME with no runtime in it (the session's runtime is elsewhere)."""
    env = {**os.environ, "HUB_HOME": str(tmp_path / "home")}
    env.pop("HUB_DATABASE_URL", None)
    return env


def test_a_short_embedded_run_ends_without_starting_the_api(tmp_path: Path) -> None:
    done = subprocess.run(
        [HUB, "run", str(ROOT / "examples" / "hello.json"), "-i", "name=Ada"],
        env=embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded runtime" in done.stdout and "completed" in done.stdout
    assert "http api: http" not in done.stdout  # the run ended before it was worth starting
    assert "hub show" in done.stdout


def test_an_embedded_runtime_runs_a_workflow_of_control_nodes_in_its_supervisor(
    tmp_path: Path,
) -> None:
    """An embedded runtime's default isolation is `auto` (docs/dsl.md, "Isolation modes"):
    hello.json's control nodes need no ExecutionActor; HUB_DEFAULT_ISOLATION still wins."""
    hello = [HUB, "run", str(ROOT / "examples" / "hello.json"), "-i", "name=Ada", "--json"]
    for environment, isolation in (({}, "auto"), ({"HUB_DEFAULT_ISOLATION": "exclusive"}, None)):
        env = {**embedded_env(tmp_path / str(isolation)), **environment}
        done = subprocess.run(hello, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        record = json.loads(done.stdout)
        assert record["status"] == "completed"
        assert record["outputs"]["greeting"]["text"] == "Hello, Ada!"
        assert record["settings"]["effective"]["workflow"].get("isolation") == isolation


def test_a_lasting_embedded_run_serves_the_api_while_it_runs(tmp_path: Path) -> None:
    doc = {
        "id": f"nap-{uuid.uuid4().hex[:8]}",
        "nodes": [{"id": "nap", "type": "delay", "parameters": {"seconds": 20}}],
    }
    path = tmp_path / "nap.json"
    path.write_text(json.dumps(doc))
    env = embedded_env(tmp_path)
    with subprocess.Popen(
        [HUB, "run", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        lines = []
        api_url = watch_url = None
        for line in proc.stdout:
            lines.append(line)
            if found := re.search(r"http api: (\S+/api/v1)", line):
                api_url = found.group(1)
            if found := re.search(r"watch it live: (\S+)", line):
                watch_url = found.group(1)
                break
        assert api_url and watch_url, "".join(lines) + (proc.stderr.read() if proc.stderr else "")
        token = (Path(env["HUB_HOME"]) / "api.token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        execution_id = watch_url.rsplit("/", 1)[-1]
        # While the run goes on, its API answers, and knows the run.
        shown = httpx.get(f"{api_url}/executions/{execution_id}", headers=headers, timeout=30)
        assert shown.status_code == 200, shown.text
        assert shown.json()["status"] == "running"
        assert httpx.get(watch_url, timeout=30).status_code == 200  # the console's page
        rest, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, "".join(lines) + rest + err
    assert "completed" in rest
