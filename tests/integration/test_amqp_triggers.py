"""AMQP triggers on the session's runtime and the real RabbitMQ (127.0.0.1:5672): every message
published has exactly one execution (also when the consumer is killed mid-batch), an invalid
one lands in the dead-letter queue with the reason, and ``publish`` sends terminal events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import aio_pika
import pytest

import hub
from tests.prerequisites import missing

pytestmark = pytest.mark.ray

BROKER = "amqp://guest:guest@127.0.0.1:5672/"
SETTLE_S = 60.0  # the most a count is waited for (a deadline, not a measured time)
T = TypeVar("T")


def _sync(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Broker:
    """The test's side of RabbitMQ: publish, read back, clean up (each call one connection)."""

    def __init__(self) -> None:
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    def name(self, what: str) -> str:
        return f"test.{what}.{uuid.uuid4().hex[:10]}"

    def publish(self, queue: str, messages: list[tuple[str | None, Any]]) -> None:
        """``(message_id, body)`` pairs to ``queue`` (declared durable first, as the consumer
        declares it), a body as JSON unless it is bytes."""
        self.queues |= {queue, f"{queue}.dead"}

        async def go() -> None:
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                await channel.declare_queue(queue, durable=True)
                for message_id, body in messages:
                    data = body if isinstance(body, bytes) else json.dumps(body).encode()
                    await channel.default_exchange.publish(
                        aio_pika.Message(
                            data,
                            message_id=message_id,
                            content_type="application/json",
                            headers={"x-test": "yes"},
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=queue,
                    )

        _sync(go())

    def send(self, queue: str, body: dict[str, Any], **properties: Any) -> None:
        """One JSON message to ``queue`` with the given properties (reply_to, message_id...)."""
        self.queues |= {queue, f"{queue}.dead"}

        async def go() -> None:
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                await channel.default_exchange.publish(
                    aio_pika.Message(json.dumps(body).encode(), **properties), routing_key=queue
                )

        _sync(go())

    def declare(self, queue: str) -> str:
        self.queues.add(queue)

        async def go() -> None:
            async with await aio_pika.connect(BROKER) as conn:
                await (await conn.channel()).declare_queue(queue, durable=True)

        _sync(go())
        return queue

    def bind(self, exchange: str, key: str) -> str:
        """A queue bound to the topic exchange ``exchange`` with ``key``."""
        queue = self.name("events")
        self.queues.add(queue)
        self.exchanges.add(exchange)

        async def go() -> None:
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                ex = await channel.declare_exchange(
                    exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
                q = await channel.declare_queue(queue, durable=True)
                await q.bind(ex, key)

        _sync(go())
        return queue

    def take(self, queue: str, count: int) -> list[tuple[dict[str, Any], bytes]]:
        """Up to ``count`` messages of ``queue`` (headers, body), waiting up to SETTLE_S."""

        async def go() -> list[tuple[dict[str, Any], bytes]]:
            found: list[tuple[dict[str, Any], bytes]] = []
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                q = await channel.declare_queue(queue, durable=True)
                deadline = time.monotonic() + SETTLE_S
                while len(found) < count and time.monotonic() < deadline:
                    message = await q.get(fail=False)
                    if message is None:
                        await asyncio.sleep(0.2)
                        continue
                    await message.ack()
                    found.append((dict(message.headers or {}), message.body))
            return found

        return _sync(go())

    def depth(self, queue: str) -> int:
        """How many messages ``queue`` holds, ready (not those delivered and unacked)."""

        async def go() -> int:
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                q = await channel.declare_queue(queue, passive=True)
                return int(q.declaration_result.message_count or 0)

        return _sync(go())

    def clean(self) -> None:
        async def go() -> None:
            async with await aio_pika.connect(BROKER) as conn:
                channel = await conn.channel()
                for queue in self.queues:
                    await channel.queue_delete(queue)
                for exchange in self.exchanges:
                    await channel.exchange_delete(exchange)

        _sync(go())


@pytest.fixture(scope="session", autouse=True)
def rabbitmq() -> None:
    """The broker these tests use, checked before the session's runtime starts for them."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        missing("RabbitMQ on 127.0.0.1:5672, user guest (apt-get install rabbitmq-server)")


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = Broker()
    yield b
    b.clean()


def workflow(queue: str, **trigger: Any) -> dict[str, Any]:
    return {
        "id": f"amqp-{uuid.uuid4().hex[:10]}",
        "inputs": {"n": {"type": "integer", "required": True}},
        "nodes": [
            {"id": "double", "type": "set", "parameters": {"values": {"n": "{{ $input.n * 2 }}"}}}
        ],
        "triggers": [
            {
                "id": "orders",
                "type": "amqp",
                "queue": queue,
                "inputs": {"n": "{{ $trigger.body.n }}"},
                **trigger,
            }
        ],
    }


@pytest.fixture
def registered(runtime: hub.Client) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Register a workflow whose consumer is running; its triggers are disabled afterwards
    (so its consumer closes before the test's queues are deleted)."""
    done: list[str] = []

    def register(doc: dict[str, Any]) -> str:
        runtime.register(doc)
        done.append(doc["id"])
        settle(lambda: bool(runtime.trigger(doc["id"], "orders").detail.get("connected")), True)
        return str(doc["id"])

    yield register
    for workflow_id in done:
        runtime.disable_trigger(workflow_id, "orders")


def settle(measure: Callable[[], T], want: T) -> T:
    """Poll ``measure`` until it returns ``want`` (then once more, to see that it stays) or
    SETTLE_S pass; the last value."""
    deadline = time.monotonic() + SETTLE_S
    value = measure()
    while time.monotonic() < deadline:
        if value == want:
            time.sleep(0.5)
            value = measure()
            if value == want:
                return value
        time.sleep(0.2)
        value = measure()
    return value


def amqp_runs(runtime: hub.Client, workflow_id: str) -> list[hub.ExecutionRecord]:
    return runtime.list(workflow_id=workflow_id, trigger="amqp", limit=1000)


def message_ids(runs: list[hub.ExecutionRecord]) -> list[str]:
    return sorted(str((r.trigger_info or {}).get("message_id")) for r in runs)


def test_each_message_starts_one_execution_with_its_mapped_inputs(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    queue = broker.name("orders")
    wf = registered(workflow(queue))
    ids = [f"m-{i:03d}" for i in range(100)]
    broker.publish(queue, [(mid, {"n": i}) for i, mid in enumerate(ids)])
    broker.publish(queue, [("m-007", {"n": 7}), ("m-042", {"n": 42})])  # a producer repeats two
    count = settle(lambda: len(amqp_runs(runtime, wf)), 100)
    runs = amqp_runs(runtime, wf)
    assert count == 100 and message_ids(runs) == ids
    by_id = {r.trigger_info["message_id"]: r for r in runs if r.trigger_info}
    run = runtime.wait(by_id["m-042"].id)
    assert run.status == hub.ExecutionStatus.COMPLETED, run.error
    assert run.inputs == {"n": 42} and run.outputs["double"] == {"n": 84}
    assert run.trigger == "amqp"
    assert run.trigger_info == {
        "id": "orders",
        "type": "amqp",
        "message_id": "m-042",
        "routing_key": queue,
    }
    assert run.idempotency_key == f"amqp:{wf}:orders:m-042"
    view = runtime.trigger(wf, "orders")
    assert view.state == "running"
    assert settle(lambda: runtime.trigger(wf, "orders").detail["duplicates"], 2) == 2
    assert view.detail["dead_lettered"] == 0


def test_killing_the_consumer_mid_batch_loses_and_doubles_nothing(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    import ray

    queue = broker.name("orders")
    # One message at a time, so the batch is still in flight when the consumer is killed.
    wf = registered(workflow(queue, prefetch=1))
    consumer = ray.get_actor(f"amqp:{wf}:orders", namespace="runtime-hub")
    pid_before: Any = ray.get(consumer.pid.remote())
    ids = [f"k-{i:03d}" for i in range(100)]
    broker.publish(queue, [(mid, {"n": i}) for i, mid in enumerate(ids)])
    settle_until(lambda: len(amqp_runs(runtime, wf)) >= 5)
    ray.kill(consumer, no_restart=False)  # Ray restarts it; its unacked message is redelivered
    at_kill = len(amqp_runs(runtime, wf))
    assert settle(lambda: len(amqp_runs(runtime, wf)), 100) == 100
    assert message_ids(amqp_runs(runtime, wf)) == ids
    assert at_kill < 100, "the batch was over before the kill: nothing was tested"
    assert ray.get(consumer.pid.remote()) != pid_before
    assert ray.get(consumer.status.remote())["consumed"] > 0  # the new one finished the batch


def test_a_full_queue_goes_in_batches_and_a_repeat_within_one_starts_nothing(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    queue = broker.name("orders")
    ids = [f"b-{i:03d}" for i in range(150)]
    # Every tenth message follows its own repeat: both land in the same batch of fires.
    messages: list[tuple[str | None, Any]] = [
        (mid, {"n": i}) for i, mid in enumerate(ids) for _ in range(2 if i % 10 == 0 else 1)
    ]
    broker.publish(queue, messages)  # before the consumer starts: it finds a full queue
    wf = registered(workflow(queue, prefetch=100))
    assert settle(lambda: len(amqp_runs(runtime, wf)), 150) == 150
    assert message_ids(amqp_runs(runtime, wf)) == ids
    # A repeat that races its original counts as started, not as a duplicate (both were
    # submitted before the execution existed); either way it made no execution of its own.
    assert settle(lambda: handled(runtime, wf), len(messages)) == len(messages)
    detail = runtime.trigger(wf, "orders").detail
    assert detail["dead_lettered"] == 0, detail
    assert detail["submit_calls"] < len(messages) / 2, detail


def handled(runtime: hub.Client, workflow_id: str) -> int:
    """Messages of the trigger "orders" that started an execution or found theirs."""
    detail = runtime.trigger(workflow_id, "orders").detail
    return int(detail["started"]) + int(detail["duplicates"])


def settle_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not condition():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.05)


def test_an_invalid_message_is_dead_lettered_with_the_reason(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    queue = broker.name("orders")
    wf = registered(workflow(queue))
    broker.publish(
        queue,
        [
            ("bad-map", {"count": 1}),  # no body.n: the mapping fails
            ("bad-type", {"n": "many"}),  # n is not an integer: the workflow refuses it
            ("good", {"n": 1}),
        ],
    )
    dead = broker.take(f"{queue}.dead", 2)
    reasons = {json.loads(body).get("n", "map"): headers for headers, body in dead}
    assert set(reasons) == {"map", "many"}
    assert "trigger 'orders'" in reasons["map"]["x-hub-reason"]
    assert "n" in reasons["many"]["x-hub-reason"]
    for headers, _ in dead:
        assert headers["x-test"] == "yes"  # the original headers are kept
        assert headers["x-hub-workflow"] == wf and headers["x-hub-queue"] == queue
    assert settle(lambda: message_ids(amqp_runs(runtime, wf)), ["good"]) == ["good"]
    view = settle(lambda: runtime.trigger(wf, "orders").detail["dead_lettered"], 2)
    assert view == 2
    assert broker.depth(queue) == broker.depth(f"{queue}.dead") == 0  # acked, not again


def test_publish_sends_the_terminal_event(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    queue = broker.name("orders")
    exchange = broker.name("events")
    doc = workflow(queue, publish={"exchange": exchange})
    events = broker.bind(exchange, f"{doc['id']}.*")
    wf = registered(doc)
    broker.publish(queue, [("p-1", {"n": 5})])
    [(headers, body)] = broker.take(events, 1)
    event = json.loads(body)
    [run] = amqp_runs(runtime, wf)
    assert event == {
        "execution_id": run.id,
        "workflow_id": wf,
        "status": "completed",
        "outputs": {"double": {"n": 10}},
    }
    assert headers["x-hub-execution-id"] == run.id


def test_a_consumer_that_cannot_connect_shows_the_trigger_in_error(
    runtime: hub.Client, broker: Broker, api: Any
) -> None:
    name = f"rabbit_{uuid.uuid4().hex[:8]}"
    put = api.put(f"/credentials/{name}", json={"value": "amqp://guest:guest@127.0.0.1:1/"})
    assert put.status_code < 300, put.text
    doc = workflow(broker.name("orders"), url_credential=name)
    runtime.register(doc)
    try:
        view = settle(lambda: runtime.trigger(doc["id"], "orders").state, "error")
        assert view == "error"
        last_error = runtime.trigger(doc["id"], "orders").last_error or ""
        assert "AMQPConnectionError" in last_error and "guest" not in last_error
    finally:
        runtime.disable_trigger(doc["id"], "orders")
        api.delete(f"/credentials/{name}")


def test_the_control_queue_starts_pauses_resumes_and_cancels_runs(
    runtime: hub.Client, broker: Broker
) -> None:
    """The control consumer itself, on a queue of its own (the session's runtime is started
    without HUB_AMQP_CONTROL, which makes the TriggerActor create one on ``hub.control``)."""
    import ray

    from actors.amqp import AmqpControlActor

    queue, replies = broker.name("control"), broker.declare(broker.name("replies"))
    consumer = AmqpControlActor.options(  # type: ignore[attr-defined]
        name=f"amqp:{queue}", namespace="runtime-hub"
    ).remote(queue, BROKER, "runtime-hub")
    try:
        assert settle(lambda: ray.get(consumer.status.remote())["connected"], True)
        doc = {
            "id": f"ctl-{uuid.uuid4().hex[:10]}",
            "inputs": {"n": {"type": "integer", "required": True}},
            "nodes": [
                {"id": "a", "type": "delay", "parameters": {"seconds": 1}},
                {"id": "b", "type": "delay", "parameters": {"seconds": 1}},
                {"id": "c", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}},
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
        }
        runtime.register(doc)

        def send(body: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
            broker.send(queue, body, reply_to=replies, message_id=message_id)
            [(_, answer)] = broker.take(replies, 1)
            return dict(json.loads(answer))

        start = {"action": "workflow.start", "workflow_id": doc["id"], "inputs": {"n": 3}}
        first = send(start, "s-1")
        assert first["ok"] and first["action"] == "workflow.start"
        assert send(start, "s-1")["execution_id"] == first["execution_id"]  # its message id
        [run] = amqp_runs(runtime, str(doc["id"]))
        assert run.id == first["execution_id"]
        assert run.trigger_info is not None and run.trigger_info["id"] == "hub.control"

        paused = send({"action": "workflow.pause", "execution_id": run.id})
        assert paused["ok"], paused
        assert settle(lambda: runtime.get(run.id).status, "paused") == "paused"
        assert send({"action": "workflow.resume", "execution_id": run.id})["ok"]
        ended = runtime.wait(run.id)
        assert ended.status == "completed" and ended.outputs["c"] == {"n": 3}

        other = send({"action": "workflow.start", "workflow_id": doc["id"], "inputs": {"n": 1}})
        cancelled = send({"action": "workflow.cancel", "execution_id": other["execution_id"]})
        assert cancelled == {
            "ok": True,
            "action": "workflow.cancel",
            "execution_id": other["execution_id"],
            "status": "cancelled",
        }

        refused = send({"action": "workflow.cancel", "execution_id": run.id})  # it ended
        assert not refused["ok"]
        [(headers, _)] = broker.take(f"{queue}.dead", 1)
        assert headers["x-hub-reason"] == refused["error"]
        assert ray.get(consumer.status.remote())["dead_lettered"] == 1
    finally:
        ray.get(consumer.stop.remote())
        ray.kill(consumer, no_restart=True)


def test_a_new_version_and_a_switch_off_and_on_keep_the_queue_consumed(
    runtime: hub.Client, broker: Broker, registered: Callable[[dict[str, Any]], str]
) -> None:
    queue = broker.name("orders")
    doc = workflow(queue)
    wf = registered(doc)
    # Another trigger definition: its consumer is replaced by one with the new settings.
    doc["triggers"][0]["prefetch"] = 7
    runtime.register({**doc, "version": "2"})
    runtime.disable_trigger(wf, "orders")
    runtime.enable_trigger(wf, "orders")
    assert settle(lambda: bool(runtime.trigger(wf, "orders").detail.get("connected")), True)
    broker.publish(queue, [("v-1", {"n": 1}), ("v-2", {"n": 2})])
    assert settle(lambda: message_ids(amqp_runs(runtime, wf)), ["v-1", "v-2"]) == ["v-1", "v-2"]
