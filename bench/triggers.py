"""AMQP trigger throughput (issue 14): messages → executions created per second. Reports
numbers; asserts nothing.

    .venv/bin/python bench/triggers.py             # about 2 minutes
    .venv/bin/python bench/triggers.py --quick

It starts its own runtime (``hub up`` in a temporary HUB_HOME, SQLite store) and stops it, and
uses the RabbitMQ broker at 127.0.0.1:5672 (guest/guest), on queues of its own that it deletes.

For each prefetch: ``--messages`` messages (each with a message id, a JSON body mapped to the
workflow's input) are published to a queue first; then the workflow with the ``amqp`` trigger
on that queue is registered, so its consumer starts on a full queue. The rate is the messages
over the span between the first and the last execution's ``created_at`` (the moment the
supervisor made it, durably, before the message was acked); the time from ``register`` to the
last one created, which adds the consumer's start, is reported beside it. The executions run
(a one-step workflow) while the others are being created, on the same two cores; the runs
ended per second (all of them over the span from the first created to the last ended) and the
time from ``register`` to the last one ended are reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")

import aio_pika  # noqa: E402

from bench.core import HUB  # noqa: E402
from hub._processes import free_port  # noqa: E402

BROKER = "amqp://guest:guest@127.0.0.1:5672/"


def workflow(workflow_id: str, queue: str, prefetch: int) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"n": {"type": "integer"}},
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}}],
        "triggers": [
            {
                "id": "q",
                "type": "amqp",
                "queue": queue,
                "prefetch": prefetch,
                "inputs": {"n": "{{ $trigger.body.n }}"},
            }
        ],
    }


async def publish(queue: str, count: int) -> None:
    async with await aio_pika.connect(BROKER) as conn:
        channel = await conn.channel()
        await channel.declare_queue(queue, durable=True)
        for i in range(count):
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"n": i}).encode(),
                    message_id=f"{queue}-{i}",
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
            )


async def delete(*queues: str) -> None:
    async with await aio_pika.connect(BROKER) as conn:
        channel = await conn.channel()
        for queue in queues:
            await channel.queue_delete(queue)


def created(client: Any, workflow_id: str) -> list[Any]:
    """Every execution the trigger has created so far (pages of 1000)."""
    import ray

    from hub.history import ExecutionQuery

    found: list[Any] = []
    cursor = None
    while True:
        query = ExecutionQuery(workflow_id=workflow_id, trigger="amqp", limit=1000, cursor=cursor)
        page = ray.get(client._conn.recorder.search_executions.remote(query))
        found += page.items
        cursor = page.next_cursor
        if not cursor:
            return found


def rate(client: Any, prefetch: int, messages: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    workflow_id, queue = f"bench-amqp-{prefetch}-{tag}", f"bench.amqp.{tag}"
    asyncio.run(publish(queue, messages))
    registered = time.time()
    client.register(workflow(workflow_id, queue, prefetch))
    deadline = time.monotonic() + 600
    records = created(client, workflow_id)
    while len(records) < messages and time.monotonic() < deadline:
        time.sleep(0.5)
        records = created(client, workflow_id)
    client.disable_trigger(workflow_id, "q")
    asyncio.run(delete(queue, f"{queue}.dead"))
    stamps = sorted(r.created_at.timestamp() for r in records)
    span = stamps[-1] - stamps[0]
    # The runs were admitted as they were created; wait for the last one to end.
    ended = records
    while time.monotonic() < deadline:
        ended = created(client, workflow_id)
        if all(r.ended_at is not None for r in ended):
            break
        time.sleep(0.5)
    ends = sorted(r.ended_at.timestamp() for r in ended if r.ended_at is not None)
    run_span = ends[-1] - stamps[0] if ends else 0
    return {
        "prefetch": prefetch,
        "messages": messages,
        "executions": len(records),
        "distinct_message_ids": len({(r.trigger_info or {}).get("message_id") for r in records}),
        "per_s_created": round((len(stamps) - 1) / span, 1) if span > 0 else None,
        "register_to_last_created_s": round(stamps[-1] - registered, 2),
        "ended": len(ends),
        "per_s_ended": round(len(ends) / run_span, 1) if run_span > 0 else None,
        "register_to_last_ended_s": round(ends[-1] - registered, 2) if ends else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--prefetch", type=int, nargs="*", default=[50, 200])
    args = parser.parse_args()
    messages = 300 if args.quick else args.messages
    home = tempfile.mkdtemp(prefix="hub-bench-amqp-")
    env = dict(
        os.environ,
        HUB_HOME=home,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    os.environ.update(env)
    up = [HUB, "up", "--json", "--port", str(free_port()), "--dashboard-port", str(free_port())]
    subprocess.run([*up, "--api-port", str(free_port())], env=env, check=True, capture_output=True)
    results: list[dict[str, Any]] = []
    try:
        import hub

        client = hub.connect()
        # Warm: the execution actors, the consumer's code path, the plan cache.
        rate(client, 50, 100)
        for prefetch in args.prefetch:
            results.append(rate(client, prefetch, messages))
        client.close()
    finally:
        subprocess.run([HUB, "down", "--cancel-runs"], env=env, check=False, capture_output=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
