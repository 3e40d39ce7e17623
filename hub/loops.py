"""Run a foreach step's items (docs/dsl.md, "Loops").

At most ``concurrency`` items run at once, each with the foreach node's retry policy. Every item
is recorded as a step row of its own, ``<node>[<index>]``: written when an attempt starts, and
made durable when the item ends, so a step resumed after a crash reruns only the items that had
not ended (an item in flight runs the same attempt again, with the same idempotency key).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.errors import ErrorCategory, StepFailed
from hub.model import RetryPolicy
from hub.nodes import failure_info
from hub.nodes._foreach import ForeachParams
from hub.records import ErrorInfo, StepRecord, StepStatus, utcnow

_ITEM_ID = re.compile(r"^(?P<owner>[A-Za-z_][A-Za-z0-9_]{0,63})\[(?P<index>\d{1,9})\]$")


def item_id(owner: str, index: int) -> str:
    return f"{owner}[{index}]"


def parse_item_id(node_id: str) -> tuple[str, int] | None:
    """``("fetch", 3)`` for ``"fetch[3]"``; None for a node's own step id."""
    match = _ITEM_ID.match(node_id)
    return (match["owner"], int(match["index"])) if match else None


@dataclass(frozen=True)
class ItemAction:
    """What one item runs, its parameters rendered for that item."""

    node_type: str
    parameters: dict[str, Any]
    timeout_s: float | None


class ItemHost(Protocol):
    """What the loop asks of the runner that owns the step."""

    def render_item(self, index: int, item: Any, attempt: int) -> ItemAction:
        """Raises StepFailed when an expression fails for this item."""

    async def call_item(self, index: int, action: ItemAction, attempt: int) -> Any:
        """Run one attempt of one item; raises StepFailed."""

    async def save_item(self, row: StepRecord, *, durable: bool) -> None:
        """Record an item's row; ``durable``: return once it is in the store."""

    def item_event(self, kind: str, data: dict[str, Any]) -> None: ...


class _ItemFailed(Exception):
    def __init__(self, index: int, failure: StepFailed) -> None:
        self.index, self.failure = index, failure


@dataclass
class ItemLoop:
    owner: str
    items: list[Any]
    params: ForeachParams
    retry: RetryPolicy
    host: ItemHost
    rows: dict[int, StepRecord]
    """Rows of this step's items so far (restored, or from an earlier attempt); kept current."""
    same_attempt: bool = False
    """The step attempt resumes one that ran before a crash: its failed items stay failed. A new
    attempt of the step (a debugger retry) runs failed items again."""
    rng: random.Random = field(default_factory=random.Random)
    results: list[Any] = field(init=False)
    errors: dict[int, dict[str, Any]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)

    async def run(self) -> dict[str, Any]:
        pending: deque[int] = deque()
        for index in range(len(self.items)):
            row = self.rows.get(index)
            if row is not None and row.status == StepStatus.COMPLETED:
                self.results[index] = row.output
            elif row is not None and row.status == StepStatus.FAILED and self.same_attempt:
                self.failed(index, row)
            else:
                pending.append(index)
        if self.params.on_item_error == "fail" and self.errors:
            first = min(self.errors)
            raise self.step_failure(first, self.errors[first]["message"])
        workers = [
            asyncio.create_task(self.worker(pending), name=f"{self.owner}:items")
            for _ in range(min(self.params.concurrency, len(pending)))
        ]
        try:
            done, _ = (
                await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
                if workers
                else (set(), set())
            )
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        except _ItemFailed as stop:
            raise self.step_failure(stop.index, stop.failure.message, stop.failure) from None
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return {"results": self.results, "errors": [self.errors[i] for i in sorted(self.errors)]}

    async def worker(self, pending: deque[int]) -> None:
        while pending:
            await self.one(pending.popleft())

    async def one(self, index: int) -> None:
        row = self.rows.get(index)
        if row is None:
            attempt, base = 1, 0
        elif row.status in (StepStatus.RUNNING, StepStatus.CANCELLED):
            attempt, base = max(row.attempts, 1), 0  # in flight at a crash: the same attempt
        else:
            attempt = base = row.attempts  # failed in an earlier step attempt: a fresh budget
            attempt += 1
        name = item_id(self.owner, index)
        started = row.started_at if row is not None and row.started_at else utcnow()
        while True:
            running = StepRecord(
                node_id=name,
                node_type=self.item_type(index),
                status=StepStatus.RUNNING,
                attempts=attempt,
                started_at=started,
            )
            await self.save(index, running, durable=False)
            try:
                action = self.host.render_item(index, self.items[index], attempt)
                running = running.model_copy(
                    update={"node_type": action.node_type, "input": action.parameters}
                )
                output = await self.host.call_item(index, action, attempt)
            except StepFailed as failure:
                budget = attempt - base
                if self.retry.should_retry(
                    budget, retryable=failure.retryable, category=failure.category
                ):
                    await asyncio.sleep(self.retry.delay_s(budget, self.rng))
                    attempt += 1
                    continue
                await self.end(index, running, None, failure)
                if self.params.on_item_error == "fail":
                    raise _ItemFailed(index, failure) from None
                return
            except asyncio.CancelledError:
                cancelled = running.model_copy(
                    update={"status": StepStatus.CANCELLED, "ended_at": utcnow()}
                )
                await asyncio.shield(self.save(index, cancelled, durable=False))
                raise
            await self.end(index, running, output, None)
            return

    async def end(
        self, index: int, running: StepRecord, output: Any, failure: StepFailed | None
    ) -> None:
        update: dict[str, Any] = {"ended_at": utcnow()}
        if failure is None:
            update.update(status=StepStatus.COMPLETED, output=output)
            self.results[index] = output
        else:
            update.update(
                status=StepStatus.FAILED,
                error=failure_info(failure, running.attempts, running.node_id),
            )
        row = running.model_copy(update=update)
        await self.save(index, row, durable=True)
        if failure is not None:
            self.failed(index, row)
        data: dict[str, Any] = {"index": index, "attempts": row.attempts}
        if failure is not None:
            data["error"] = failure.message
        self.host.item_event("item_failed" if failure else "item_completed", data)

    def failed(self, index: int, row: StepRecord) -> None:
        error = row.error or ErrorInfo(message="failed", category="node_error")
        self.errors[index] = {
            "index": index,
            "message": error.message,
            "category": error.category,
            "attempts": row.attempts,
        }

    async def save(self, index: int, row: StepRecord, *, durable: bool) -> None:
        self.rows[index] = row
        await self.host.save_item(row, durable=durable)

    def item_type(self, index: int) -> str:
        row = self.rows.get(index)
        if row is not None:
            return row.node_type
        return self.params.node.type if self.params.node is not None else "workflow"

    def step_failure(
        self, index: int, message: str, failure: StepFailed | None = None
    ) -> StepFailed:
        return StepFailed(
            f"item {index} failed: {message}",
            category=failure.category if failure is not None else ErrorCategory.NODE_ERROR,
            retryable=False,  # its items had their retries; a new step attempt would not help
            details={"index": index},
        )


def item_rows(owner_ids: Mapping[str, Any], steps: list[StepRecord]) -> dict[str, dict[int, Any]]:
    """The item rows among stored ``steps``, by owner node (only owners in ``owner_ids``)."""
    found: dict[str, dict[int, StepRecord]] = {}
    for step in steps:
        parsed = parse_item_id(step.node_id)
        if parsed is not None and parsed[0] in owner_ids:
            found.setdefault(parsed[0], {})[parsed[1]] = step
    return found
