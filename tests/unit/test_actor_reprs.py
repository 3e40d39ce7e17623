"""What the runtime's actors call themselves in Ray's dashboard (actors/_reprs.py), from the
state they hold: the execution a run carries or idle, a pool's type and load, the desktop's
gates and sessions, and the name of a node call."""

from __future__ import annotations

from actors import _reprs
from hub.nodes import NodeCall
from hub.records import ExecutionRecord, ExecutionStatus


def record(workflow: str, n: int, status: ExecutionStatus) -> ExecutionRecord:
    return ExecutionRecord(
        id=f"{n:02d}" + "abcdef0123456789",
        workflow_id=workflow,
        workflow_version="3",
        status=status,
    )


def test_an_execution_actor_shows_its_run_or_idle() -> None:
    assert _reprs.execution_actor({}, shared=False) == "ExecutionActor(idle)"
    run = record("orders", 7, ExecutionStatus.PAUSED)
    assert _reprs.execution_actor({run.id: run}, shared=False) == (
        "ExecutionActor(orders v3 07abcdef paused)"
    )


def test_a_shared_execution_actor_shows_how_many_runs_and_the_first_few() -> None:
    assert _reprs.execution_actor({}, shared=True) == "ExecutionActor(shared, idle)"
    runs = {r.id: r for r in (record("w", n, ExecutionStatus.RUNNING) for n in range(5))}
    shown = _reprs.execution_actor(runs, shared=True)
    assert shown.startswith("ExecutionActor(shared, 5 runs: w v3 00abcdef running; ")
    assert "w v3 02abcdef running" in shown and "03abcdef" not in shown
    assert shown.endswith(", +2 more)")


def test_a_node_actor_shows_its_type_family_and_load() -> None:
    assert _reprs.node_actor("http", None, 2, 8) == "NodeActor(http, 2/8 calls)"
    assert _reprs.node_actor("code", "code", 0, 1) == "NodeActor(code [code family], 0/1 calls)"


def test_the_desktop_shows_its_gates_and_sessions() -> None:
    assert _reprs.desktop_actor(":99", enabled=True, dry_run=True, sessions=1, inflight=0) == (
        "DesktopActor(DISPLAY=:99, enabled, dry run, 1 clicker session running, 0 calls)"
    )
    assert _reprs.desktop_actor(None, enabled=False, dry_run=False, sessions=0, inflight=2) == (
        "DesktopActor(DISPLAY=-, disabled, 0 clicker sessions running, 2 calls)"
    )


def test_a_node_call_is_named_by_its_step_and_execution() -> None:
    call = NodeCall(
        execution_id="e1", workflow_id="orders", node_id="fetch", node_type="http", attempt=2,
        parameters={},
    )  # fmt: skip
    assert _reprs.node_call_name(call) == "http orders.fetch#2 execution:e1"
