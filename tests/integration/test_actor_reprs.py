"""The runtime's actors as Ray's dashboard shows them, read through Ray's state API
(ray.util.state, what the dashboard's Actors and Tasks pages read): each actor's repr, and the
running tasks that say which execution and step an actor carries now."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import ray
from ray.util.state import list_actors, list_tasks

import hub
from hub.runtime import NAMESPACE, read_runtime
from tests.prerequisites import missing

pytestmark = pytest.mark.ray

T = TypeVar("T")


def until(probe: Callable[[], T | None], what: str, timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def alive_actors(address: str, class_name: str) -> list[Any]:
    return list(
        list_actors(
            address=address,
            filters=[("class_name", "=", class_name), ("state", "=", "ALIVE")],
            detail=True,
            limit=1000,
        )
    )


def where(actor_name: str) -> dict[str, Any]:
    """The actor's own account of itself, asked now (its live repr included)."""
    answer: Any = ray.get(ray.get_actor(actor_name, namespace=NAMESPACE).where.remote())
    return dict(answer)


@pytest.fixture()
def gcs(runtime: hub.Client, hub_home: Path) -> str:
    info = read_runtime(hub_home)
    assert info is not None
    return info.address


def test_the_actors_page_says_what_each_actor_is(runtime: hub.Client, gcs: str) -> None:
    executions = alive_actors(gcs, "ExecutionActor")
    assert executions, "no ExecutionActor is alive"
    for actor in executions:
        assert actor.repr_name.startswith("ExecutionActor("), actor.repr_name
    pools = {a.name: a.repr_name for a in alive_actors(gcs, "NodeActor")}
    # The pre-warmed pools of the gated code and shell families.
    assert any(r.startswith("NodeActor(code [code family], 0/") for r in pools.values()), pools
    assert any(r.startswith("NodeActor(shell [shell family], 0/") for r in pools.values()), pools


@pytest.mark.timeout(240)
def test_a_running_step_names_its_execution_on_both_actors(
    runtime: hub.Client, gcs: str, http_server: Any
) -> None:
    workflow = f"repr-{uuid.uuid4().hex[:8]}"
    doc = {
        "id": workflow,
        "nodes": [
            {
                "id": "slow",
                "type": "http",
                "parameters": {"url": http_server.url + "/slow?s=60", "timeout_s": 90},
            }
        ],
    }
    started = runtime.run(doc, wait=False)
    try:
        step_name = f"http {workflow}.slow#1 execution:{started.id}"

        def running(name: str) -> Any:
            tasks = list_tasks(
                address=gcs,
                filters=[("name", "=", name), ("state", "=", "RUNNING")],
                detail=True,
            )
            return tasks[0] if tasks else None

        step = until(lambda: running(step_name), f"the running task {step_name!r}")
        pools = {a.actor_id: a for a in alive_actors(gcs, "NodeActor")}
        assert step.actor_id in pools, "the step's task does not run on a node actor"
        pool_actor = pools[step.actor_id]
        assert pool_actor.repr_name.startswith("NodeActor(http, "), pool_actor.repr_name
        # Asked now, the node actor counts the call it runs.
        live = where(pool_actor.name)
        assert live["repr"].startswith("NodeActor(http, 1/"), live

        run_name = f"run {workflow} v1 execution:{started.id}"
        run = until(lambda: running(run_name), "the execution's task")
        executions = {a.actor_id: a for a in alive_actors(gcs, "ExecutionActor")}
        assert run.actor_id in executions
        carrier = where(executions[run.actor_id].name)
        assert f"{workflow} v1 {started.id[:8]} running" in carrier["repr"], carrier
    finally:
        runtime.cancel(started.id)


@pytest.mark.timeout(180)
def test_the_desktop_shows_its_display_and_gates(
    runtime: hub.Client, gcs: str, x_display: str | None
) -> None:
    if x_display is None:
        missing("Xvfb is not installed here (the test command installs it)")
    runtime.desktop_reset()  # creates the DesktopActor on the display's node
    desktop = until(lambda: alive_actors(gcs, "DesktopActor"), "the DesktopActor")[0]
    assert desktop.repr_name.startswith(f"DesktopActor(DISPLAY={x_display}, "), desktop.repr_name
    assert "clicker session" in desktop.repr_name
