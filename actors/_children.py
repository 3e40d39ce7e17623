"""The ExecutionActor's side of the workflow node (hub.nodes._workflow.ChildRuns): start, wait
for and cancel child executions through the supervisor's one start path."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from actors._journal import RecorderJournal
from hub.records import ExecutionRecord


class SupervisorChildRuns:
    def __init__(
        self, supervisor: Callable[[], Any], parent: ExecutionRecord, journal: RecorderJournal
    ) -> None:
        self.supervisor = supervisor
        self.parent = parent
        self.journal = journal

    async def start_child(
        self,
        workflow_id: str,
        version: str | None,
        inputs: dict[str, Any],
        *,
        key: str,
        node_id: str,
        wait: bool,
    ) -> ExecutionRecord:
        link = {
            "id": self.parent.id,
            "node_id": node_id,
            "depth": int(self.parent.settings.get("depth", 0)) + 1,
            "waits": wait,  # a waiting parent lends its slot (hub.admission)
        }
        record: ExecutionRecord = await self.supervisor().submit.remote(
            workflow_id,
            inputs,
            version=version,
            trigger="workflow",
            idempotency_key=key,
            parent=link,
        )
        return record

    async def wait(self, execution_id: str) -> ExecutionRecord:
        record: ExecutionRecord = await self.supervisor().wait.remote(execution_id)
        return record

    async def abandon(self, execution_id: str) -> None:
        if self.journal.superseded:
            return  # another runner took the parent over: it waits for this child
        with contextlib.suppress(Exception):  # already ended, or the runtime is stopping
            await self.supervisor().cancel.remote(
                execution_id, f"its parent execution {self.parent.id} stopped"
            )
