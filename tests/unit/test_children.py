"""actors/_children.py: how a workflow (or foreach) step stops the child it waits for."""

from __future__ import annotations

import asyncio
from typing import Any

from actors._children import SupervisorChildRuns
from hub.records import ExecutionRecord, ExecutionStatus


class Remote:
    def __init__(self, log: list[tuple[str, tuple[Any, ...]]], name: str) -> None:
        self.log, self.name = log, name

    def remote(self, *args: Any) -> Any:
        self.log.append((self.name, args))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class Supervisor:
    """Stands in for the supervisor actor's handle: records the calls made on it."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.cancel = Remote(self.log, "cancel")


class Journal:
    def __init__(self, superseded: bool) -> None:
        self.superseded = superseded


def parent() -> ExecutionRecord:
    return ExecutionRecord(
        id="p1", workflow_id="wf", workflow_version="1", status=ExecutionStatus.RUNNING
    )


def abandon(superseded: bool) -> list[tuple[str, tuple[Any, ...]]]:
    supervisor = Supervisor()
    runs = SupervisorChildRuns(lambda: supervisor, parent(), Journal(superseded))  # type: ignore[arg-type]
    asyncio.run(runs.abandon("c1"))
    return supervisor.log


def test_a_stopped_parent_cancels_its_child() -> None:
    assert abandon(superseded=False) == [("cancel", ("c1", "its parent execution p1 stopped"))]


def test_a_parent_taken_over_by_another_runner_leaves_its_child_running() -> None:
    assert abandon(superseded=True) == []  # the new runner waits for that child
