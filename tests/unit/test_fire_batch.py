"""An AMQP consumer's fires in few TriggerActor calls (actors/_fire_batch.py): a fire at low
load goes alone and at once, the fires that arrive while a call is in flight go together in the
next, each fire gets its own answer, and a failed call fails its own fires only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actors._fire_batch import Answer, FireBatcher
from hub.errors import HubError
from hub.records import ExecutionRecord, ExecutionStatus
from hub.triggers import Fire


def fire(n: int) -> Fire:
    return Fire(
        workflow_id="wf",
        trigger_id="q",
        kind="amqp",
        inputs={"n": n},
        info={"message_id": f"m-{n}"},
        idempotency_key=f"amqp:wf:q:m-{n}",
    )


def record(f: Fire) -> ExecutionRecord:
    return ExecutionRecord(
        id=f"e-{f.inputs['n']}",
        workflow_id=f.workflow_id,
        workflow_version="1",
        status=ExecutionStatus.QUEUED,
        trigger=f.kind,
        inputs=f.inputs,
        idempotency_key=f.idempotency_key,
    )


class TriggerActor:
    """Answers each call after a pause (a call in flight), the way submit_many answers: a
    record per fire, or the error that refused it (inputs n < 0 are refused)."""

    def __init__(self, fail_calls: int = 0) -> None:
        self.calls: list[list[int]] = []
        self.fail_calls = fail_calls

    async def submit_many(self, fires: list[Fire]) -> list[Answer]:
        self.calls.append([f.inputs["n"] for f in fires])
        await asyncio.sleep(0.01)
        if len(self.calls) <= self.fail_calls:
            raise ConnectionError("the TriggerActor is restarting")
        return [
            record(f) if f.inputs["n"] >= 0 else HubError(f"refused {f.inputs['n']}") for f in fires
        ]


def run(body: Callable[[FireBatcher], Awaitable[Any]], actor: TriggerActor) -> Any:
    async def main() -> Any:
        return await body(FireBatcher(actor.submit_many))

    return asyncio.run(main())


def test_a_fire_at_low_load_goes_alone_and_at_once() -> None:
    actor = TriggerActor()
    answer = run(lambda batcher: batcher.submit(fire(1)), actor)
    assert answer.id == "e-1" and actor.calls == [[1]]


def test_a_burst_of_fires_shares_few_calls_and_each_gets_its_own_execution() -> None:
    actor = TriggerActor()

    async def body(batcher: FireBatcher) -> list[ExecutionRecord]:
        first = asyncio.ensure_future(batcher.submit(fire(0)))
        await asyncio.sleep(0)  # the first call is in flight ...
        rest = [batcher.submit(fire(n)) for n in range(1, 100)]  # ... while these arrive
        return [await first, *await asyncio.gather(*rest)]

    answers = run(body, actor)
    assert [a.id for a in answers] == [f"e-{n}" for n in range(100)]
    assert sorted(n for call in actor.calls for n in call) == list(range(100))
    assert len(actor.calls) <= 3, actor.calls


def test_a_refused_fire_fails_alone() -> None:
    actor = TriggerActor()

    async def body(batcher: FireBatcher) -> list[object]:
        return await asyncio.gather(
            *(batcher.submit(fire(n)) for n in (1, -2, 3)), return_exceptions=True
        )

    ok, refused, other = run(body, actor)
    assert isinstance(ok, ExecutionRecord) and ok.id == "e-1"
    assert isinstance(refused, HubError) and refused.message == "refused -2"
    assert isinstance(other, ExecutionRecord) and other.id == "e-3"


def test_a_failed_call_fails_its_fires_and_the_next_call_still_goes() -> None:
    actor = TriggerActor(fail_calls=1)

    async def body(
        batcher: FireBatcher,
    ) -> tuple[list[ExecutionRecord | BaseException], ExecutionRecord]:
        failed = await asyncio.gather(
            *(batcher.submit(fire(n)) for n in range(5)), return_exceptions=True
        )
        return failed, await batcher.submit(fire(9))  # a consumer's retry

    failed, retried = run(body, actor)
    assert all(isinstance(f, ConnectionError) for f in failed)
    assert retried.id == "e-9"


def test_an_answer_that_does_not_match_the_fires_fails_them() -> None:
    async def short(fires: list[Fire]) -> list[Answer]:
        return [record(fires[0])]

    async def main() -> list[object]:
        batcher = FireBatcher(short)
        return await asyncio.gather(
            *(batcher.submit(fire(n)) for n in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes


@pytest.mark.parametrize("max_batch", [1, 7])
def test_no_call_carries_more_than_max_batch_fires(max_batch: int) -> None:
    actor = TriggerActor()

    async def main() -> list[ExecutionRecord]:
        batcher = FireBatcher(actor.submit_many, max_batch=max_batch)
        return await asyncio.gather(*(batcher.submit(fire(n)) for n in range(20)))

    answers = asyncio.run(main())
    assert [a.id for a in answers] == [f"e-{n}" for n in range(20)]
    assert max(len(call) for call in actor.calls) <= max_batch


def test_a_fire_right_after_the_last_shipper_finished_still_ships() -> None:
    """With one call in flight: the shipper that carried the previous fire has returned but is
    still in the set until its done callback runs; a fire submitted in that moment (its caller
    woke first) starts a shipper of its own instead of waiting for one that is over."""
    actor = TriggerActor()

    async def main() -> list[ExecutionRecord]:
        batcher = FireBatcher(actor.submit_many, max_in_flight=1)
        first = await batcher.submit(fire(1))
        async with asyncio.timeout(5):  # in this task: wait_for's new task would start too late
            second = await batcher.submit(fire(2))
        return [first, second]

    assert [r.id for r in asyncio.run(main())] == ["e-1", "e-2"]
    assert actor.calls == [[1], [2]]
