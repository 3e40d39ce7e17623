"""Node actors are threaded actors (actors/node_pool.py): an async node's call that its caller
gives up on (a step timeout, a cancelled execution) is cancelled where it runs, a blocking
(plain ``def``) node runs off the actor's loop and a timed-out one frees the actor's call
thread, and a node actor whose every call thread is busy still answers ``ping``."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import ray

import hub
from hub import ExecutionStatus

pytestmark = pytest.mark.ray


def until(probe: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        time.sleep(0.05)


def said(marker: Path, word: str) -> bool:
    return marker.exists() and marker.read_text() == word


def one_node(node: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"node-actors-{uuid.uuid4().hex[:10]}", "nodes": [node], "edges": []}


def warm(runtime: hub.Client, tmp_path: Path) -> dict[str, Any]:
    """A quick test.wait step: its pool has a process (a 1 s limit is not spent starting one,
    when the call would be cancelled before it began). Its output."""
    marker = tmp_path / "warm"
    quick = {"id": "w", "type": "test.wait", "parameters": {"marker": str(marker)}}
    record = runtime.run(one_node(quick), timeout_s=60)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert said(marker, "finished")
    return dict(record.outputs["w"])


def test_an_async_step_past_its_timeout_is_cancelled_in_its_node_actor(
    runtime: hub.Client, tmp_path: Path
) -> None:
    warm(runtime, tmp_path)
    marker = tmp_path / "wait"
    node = {
        "id": "w",
        "type": "test.wait",
        "parameters": {"seconds": 120, "marker": str(marker)},
        "timeout_s": 1,
    }
    record = runtime.run(one_node(node), timeout_s=60)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "step timed out after 1s"
    # The coroutine saw CancelledError (it would sleep for two minutes otherwise).
    until(lambda: said(marker, "cancelled"), "the timed-out call was cancelled in its actor")
    # The pool serves the next call; async nodes run on the actor's own event loop thread.
    assert warm(runtime, tmp_path)["thread"] == "node-loop"


def test_cancelling_an_execution_cancels_its_running_async_step(
    runtime: hub.Client, tmp_path: Path
) -> None:
    marker = tmp_path / "wait"
    node = {"id": "w", "type": "test.wait", "parameters": {"seconds": 120, "marker": str(marker)}}
    started = runtime.run(one_node(node), wait=False)
    until(lambda: said(marker, "started"), "the step started")
    runtime.cancel(started.id)
    until(lambda: said(marker, "cancelled"), "the cancelled execution's step was cancelled")
    assert runtime.wait(started.id, timeout_s=60).status == ExecutionStatus.CANCELLED


def test_a_blocking_node_runs_in_its_node_actors_call_thread(runtime: hub.Client) -> None:
    doc = one_node({"id": "b", "type": "test.blocking", "parameters": {"value": 7}})
    record = runtime.run(doc, timeout_s=60)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    output = record.outputs["b"]
    assert output["value"] == 7
    assert output["thread"] != "node-loop"
    failed = runtime.run(
        one_node({"id": "b", "type": "test.blocking", "parameters": {"value": "fail"}}),
        timeout_s=60,
    )
    assert failed.status == ExecutionStatus.FAILED
    assert failed.error is not None and failed.error.message == "ValueError: asked to fail"
    logs = [entry.message for entry in runtime.logs(failed.id)]
    assert "blocking call" in logs


def test_a_blocking_step_past_its_timeout_frees_its_node_actor(runtime: hub.Client) -> None:
    """test.blocking's pool is one process taking one call at a time: the timed-out call's
    function still sleeps in its worker thread, but the actor's call thread is free, so the
    next step runs at once (it would wait two minutes behind the sleeper otherwise)."""
    warm = runtime.run(one_node({"id": "b", "type": "test.blocking"}), timeout_s=60)
    assert warm.status == ExecutionStatus.COMPLETED, warm.error
    sleeper = {"id": "b", "type": "test.blocking", "parameters": {"seconds": 120}, "timeout_s": 1}
    record = runtime.run(one_node(sleeper), timeout_s=60)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "step timed out after 1s"
    after = runtime.run(
        one_node({"id": "b", "type": "test.blocking", "parameters": {"value": 1}, "timeout_s": 30}),
        timeout_s=60,
    )
    assert after.status == ExecutionStatus.COMPLETED, after.error
    assert after.outputs["b"]["pid"] == warm.outputs["b"]["pid"]  # the same process


@pytest.mark.timeout(120)
def test_a_code_actor_busy_with_a_call_still_answers_ping(
    runtime: hub.Client, tmp_path: Path
) -> None:
    pid_file = tmp_path / "spin.pid"
    spin = (
        "import os\n"
        "def main(input):\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    while True:\n"
        "        pass\n"
    )
    node = {"id": "spin", "type": "code", "parameters": {"source": spin}, "timeout_s": 20}
    started = runtime.run(one_node(node), wait=False)
    try:
        until(lambda: pid_file.exists() and pid_file.read_text(), "the code step started")
        supervisor = runtime._conn.supervisor
        _, _, members = ray.get(supervisor.node_pool.remote("code"), timeout=30)
        # The one call thread of a code actor (concurrency 1) is busy with the spin.
        assert ray.get([m.ping.remote() for m in members], timeout=10) == ["code"] * len(members)
    finally:
        runtime.cancel(started.id)
