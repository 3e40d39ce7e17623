"""The plugin SDK end to end: examples/plugins/hub-nodes-example is pip-installed into this test
environment, a runtime of its own (``hub up``) finds its two node types through the
``runtime_hub.nodes`` entry point, and a workflow uses both. Uninstalled at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HUB, ROOT, free_port

pytestmark = pytest.mark.ray

PACKAGE = ROOT / "examples" / "plugins" / "hub-nodes-example"


def pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    source = tmp_path / "hub-nodes-example"  # a copy: building writes into the source tree
    shutil.copytree(PACKAGE, source)
    pip("install", "--quiet", "--no-deps", "--no-build-isolation", str(source))
    try:
        yield
    finally:
        pip("uninstall", "--yes", "--quiet", "hub-nodes-example")


def hub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"hub {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_an_installed_plugin_package_runs_on_a_real_runtime(
    installed: None, tmp_path: Path
) -> None:
    env = {**os.environ, "HUB_HOME": str(tmp_path / "home")}
    for name in ("HUB_DATABASE_URL", "HUB_NODE_MODULES"):
        env.pop(name, None)
    ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
    hub(env, "up", *ports, "--api-port", str(free_port()))
    try:
        listed = json.loads(hub(env, "nodes", "example.word_count", "--json"))
        assert listed["runs_in"] == "node-pool" and listed["enabled"]
        assert listed["default_timeout_s"] == 10.0
        workflow = tmp_path / "titles.json"
        workflow.write_text(
            json.dumps(
                {
                    "id": "titles",
                    "inputs": {"title": {"type": "string", "required": True}},
                    "nodes": [
                        {
                            "id": "slug",
                            "type": "example.slugify",
                            "parameters": {"text": "{{ $input.title }}"},
                        },
                        {
                            "id": "count",
                            "type": "example.word_count",
                            "parameters": {"text": "{{ $input.title }} {{ $slug.slug }}"},
                        },
                    ],
                    "edges": [{"from": "slug", "to": "count"}],
                }
            )
        )
        title = "Héllo World, hello plugins!"
        record = json.loads(hub(env, "run", str(workflow), "-i", f"title={title}", "--json"))
        assert record["status"] == "completed", record
        assert record["outputs"]["slug"] == {"slug": "hello-world-hello-plugins"}
        assert record["outputs"]["count"]["top"][0] == {"word": "hello", "count": 3}
        logs = hub(env, "logs", record["id"])
        assert "counted 8 words" in logs
        bad = subprocess.run(
            [HUB, "run", str(workflow), "-i", "title=!!!", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        failed = json.loads(bad.stdout)
        assert bad.returncode == 1 and failed["error"]["category"] == "validation"
        assert "no letters or digits" in failed["error"]["message"]
    finally:
        subprocess.run([HUB, "down"], env=env, capture_output=True, timeout=120)
