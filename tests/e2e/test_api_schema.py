"""Schemathesis against the published OpenAPI document, every operation, all four phases
(examples, coverage, fuzzing, stateful), on two runtimes of the tests' own: here one with the
``desktop`` resource (on an X display of its own, so the clicks and sessions it starts touch
nothing else), and in test_api_without_desktop.py one without (PostgreSQL, retention on).
Checks: no 5xx, no network error, every answer matches its schema. Each runtime is its own
(HUB_HOME, ports), so the settings, deletions and credentials it generates never disturb the
session's shared runtime.

The seed is fixed so a failure reproduces (``HUB_SCHEMATHESIS_SEED`` picks another); the
failures of a run are printed from its JSON report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HUB, free_port

pytestmark = pytest.mark.ray

PHASES = ("examples", "coverage", "fuzzing", "stateful")
MAX_EXAMPLES = 3  # per operation and phase: ~60 operations -> about 1,700 cases
MIN_CASES = 500
SEED = os.environ.get("HUB_SCHEMATHESIS_SEED", "20261206")
STREAM_HEARTBEAT_S = "1"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@contextmanager
def own_runtime(tmp: Path, base_env: dict[str, str], desktop: bool) -> Iterator[tuple[str, str]]:
    """``hub up`` with its own home and ports (with ``--desktop`` on its own Xvfb display);
    yields (API URL, token); ``hub down`` after."""
    env = {k: v for k, v in base_env.items() if k not in ("DISPLAY", "HUB_ENABLE_DESKTOP")}
    env["HUB_HOME"] = str(tmp / "home")
    # Schemathesis reads a live stream to its end, and a stream asked for events after the end
    # of a finished execution waits one heartbeat before it ends: 15 s by default, six such
    # streams were most of the run's time.
    env["HUB_API_HEARTBEAT_S"] = STREAM_HEARTBEAT_S
    with ExitStack() as stack:
        flags = []
        if desktop:
            from tests.e2e.xvfb import running_xvfb

            env.update(DISPLAY=stack.enter_context(running_xvfb()), HUB_ENABLE_DESKTOP="1")
            flags = ["--desktop"]
        ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
        up = subprocess.run(
            [HUB, "up", *ports, "--api-port", str(free_port()), "--json", *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        try:
            assert up.returncode == 0, f"hub up failed:\n{up.stdout}\n{up.stderr}"
            info = json.loads(up.stdout)
            yield info["api_url"], info["api_token"]
        finally:
            subprocess.run([HUB, "down"], env=env, capture_output=True, timeout=120)


def schemathesis(api_url: str, token: str, report: Path) -> dict[str, Any]:
    """One ``schemathesis run`` with every phase; its JSON report."""
    done = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{api_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--phases",
            ",".join(PHASES),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--request-timeout",
            "60",
            "--workers",
            "1",
            "--seed",
            SEED,
            "--suppress-health-check",
            "all",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=report.parent,  # it keeps a .schemathesis/ folder where it runs
    )
    assert report.exists(), f"schemathesis wrote no report:\n{done.stdout[-5000:]}\n{done.stderr}"
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = done.stdout[-8000:]
    return result


def assert_conforms(result: dict[str, Any]) -> None:
    """Every operation tested in every phase, enough cases, no failure and no error."""
    output = result["output"]
    assert result["complete"] and result["stop_reason"] == "completed", output
    assert result["failures"] == [], output  # a 5xx or an answer outside the schema
    assert result["errors"] == [], output  # network errors, timeouts, broken streams
    operations = result["operations"]
    assert operations["errored"] == 0 and operations["skipped"] == 0, operations
    assert operations["tested"] == operations["total"] >= 60, operations
    phases = {name: result["phases"][name]["status"] for name in PHASES}
    assert phases == dict.fromkeys(PHASES, "success"), (phases, output)
    cases = result["test_cases"]
    assert cases["generated"] >= MIN_CASES and cases["errored"] == 0, cases
    assert result["exit_code"] == 0, output


@pytest.mark.timeout(900)
def test_the_api_conforms_to_its_openapi_document_with_a_desktop(
    tmp_path: Path, runtime_env: dict[str, str]
) -> None:
    """The desktop-less runtime's run is in test_api_without_desktop.py (its own runtime)."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is needed for the desktop runtime (the test command installs it)")
    with own_runtime(tmp_path, runtime_env, desktop=True) as (api_url, token):
        result = schemathesis(api_url, token, tmp_path / "schemathesis.json")
    assert_conforms(result)
