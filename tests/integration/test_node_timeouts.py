"""Node timeouts on the session's real runtime: a code node that never returns is stopped at its
limit (the 30 s default when the workflow says nothing), its pool process is killed and replaced,
and the pool serves the next code step."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import ExecutionStatus

pytestmark = pytest.mark.ray


def spin_writing_pid(path: Path) -> str:
    """Code that writes its process id to ``path``, then never returns."""
    return (
        "import os\n"
        "def main(input):\n"
        f"    with open({str(path)!r}, 'w') as f:\n"
        "        f.write(str(os.getpid()))\n"
        "    while True:\n"
        "        pass\n"
    )


REPORT_PID = "import os\ndef main(input):\n    return {'pid': os.getpid()}"


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


def wait_dead(pid: int, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"the timed-out code process {pid} still runs after {within_s}s")
        time.sleep(0.1)


def step(record: hub.ExecutionRecord, node_id: str) -> hub.StepRecord:
    return next(s for s in record.steps if s.node_id == node_id)


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"timeouts-{uuid.uuid4().hex[:10]}", "nodes": nodes, "edges": edges}


def test_a_timed_out_code_process_is_replaced_and_the_next_step_runs(
    runtime: hub.Client, tmp_path: Path
) -> None:
    pid_file = tmp_path / "spin.pid"
    doc = workflow(
        [
            # Warms the pool first, so the spin's short limit is not spent starting a process.
            {"id": "warm", "type": "code", "parameters": {"source": REPORT_PID}},
            {
                "id": "spin",
                "type": "code",
                "parameters": {"source": spin_writing_pid(pid_file)},
                "timeout_s": 3,  # the node's own timeout_s; the parameter is left at its default
                "on_error": "ignore",
            },
            {"id": "after", "type": "code", "parameters": {"source": REPORT_PID}},
        ],
        [{"from": "warm", "to": "spin"}, {"from": "spin", "to": "after"}],
    )
    record = runtime.run(doc)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    spin = step(record, "spin")
    assert spin.error is not None
    assert (spin.error.category, spin.error.message) == ("timeout", "step timed out after 3s")
    spinner = int(pid_file.read_text())
    wait_dead(spinner)  # killed, not left spinning in the pool
    assert record.outputs["after"]["pid"] != spinner


@pytest.mark.timeout(240)
def test_a_code_node_without_timeout_s_stops_at_the_30s_default(
    runtime: hub.Client, tmp_path: Path
) -> None:
    """The defect: with no timeout_s anywhere, ``while True: pass`` held a pool process forever
    (this run never ended). The one test that waits the real default out."""
    pid_file = tmp_path / "spin.pid"
    doc = workflow(
        [{"id": "spin", "type": "code", "parameters": {"source": spin_writing_pid(pid_file)}}], []
    )
    # The execution's own limit ends the run even where the step's is missing (the defect),
    # so this test fails on the message rather than hanging.
    record = runtime.run(doc, execution_timeout_s=90, timeout_s=150)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None
    assert (record.error.category, record.error.message) == ("timeout", "step timed out after 30s")
    spinner = int(pid_file.read_text())
    wait_dead(spinner)
    ok = runtime.run(
        workflow([{"id": "c", "type": "code", "parameters": {"source": REPORT_PID}}], [])
    )
    assert ok.status == ExecutionStatus.COMPLETED, ok.error
    assert ok.outputs["c"]["pid"] != spinner
