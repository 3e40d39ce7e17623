"""The AMQP actors: the consumer of one ``amqp`` trigger, and the runtime-wide control queue.
Thin: the queue itself is a QueueLink (actors/_amqp_link.py), and what a message becomes, when
it is acked, dead-lettered or submitted again is decided in hub/triggers/_amqp.py and
hub/triggers/_control.py (their docstrings list the rules).

The TriggerActor creates a consumer per enabled trigger, named ``amqp:{workflow}:{trigger}``,
and the control consumer (``amqp:control``) when the settings enable it; it owns them (they go
with it, and its next incarnation creates them again). Ray restarts one that crashes; its
unacked messages are redelivered by the broker to the next one, where their message ids find
the executions already made.

``publish`` is best effort: the terminal event is published by the consumer that started the
execution (or found it, for a redelivered message) once the supervisor says it ended; if that
consumer stops or dies while it waits, the event is not published.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import ray
from aio_pika.abc import AbstractIncomingMessage
from ray.exceptions import RayTaskError

from actors import RECORDER_NAME, SUPERVISOR_NAME
from actors._amqp_link import QueueLink
from actors._fire_batch import Answer, FireBatcher
from actors._trigger_metrics import TriggerMetrics
from actors.supervisor import TRIGGERS_NAME
from hub.records import DebugView, ExecutionRecord
from hub.triggers import AmqpTrigger, Fire
from hub.triggers._amqp import (
    ConsumerCounts,
    Delivery,
    Outcome,
    dead_letter_headers,
    event_routing_key,
    fire_for,
    is_duplicate,
    refusal_reason,
    retry_delay_s,
    terminal_event,
)
from hub.triggers._control import (
    CONTROL_TRIGGER_ID,
    ControlCommand,
    ControlMessageInvalid,
    parse_control,
    reply,
    start_info,
    start_key,
)

logger = logging.getLogger(__name__)

CONTROL_NAME = "amqp:control"
CONTROL_PREFETCH = 20
WAIT_SLICE_S = 60.0  # a publish waits for its execution's end in slices of this
POLL_S = 1.0  # ... or polls it, when the supervisor that started it has restarted since


def _unwrapped(exc: BaseException) -> BaseException:
    """What an actor call raised, without Ray's wrapping."""
    if isinstance(exc, RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return exc


def _delivery(message: AbstractIncomingMessage) -> Delivery:
    return Delivery(
        body=message.body,
        headers=dict(message.headers or {}),
        routing_key=message.routing_key,
        exchange=message.exchange,
        message_id=message.message_id,
        content_type=message.content_type,
        redelivered=bool(message.redelivered),
    )


class _Runtime:
    """Handles on the runtime's named actors, looked up once (off the event loop: a lookup
    blocks) and again after a call through them failed."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.handles: dict[str, Any] = {}

    async def actor(self, name: str) -> Any:
        handle = self.handles.get(name)
        if handle is None:
            handle = await asyncio.to_thread(ray.get_actor, name, namespace=self.namespace)
            self.handles[name] = handle
        return handle

    def forget(self) -> None:
        self.handles.clear()


async def _retry_pause(queue: str, delivery: Delivery, exc: BaseException, attempt: int) -> None:
    delay = retry_delay_s(attempt)
    logger.warning(
        "queue %r: message %s not taken (%s); trying again in %.1fs",
        queue,
        delivery.message_id or "(no id)",
        _unwrapped(exc),
        delay,
    )
    await asyncio.sleep(delay)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class AmqpConsumerActor:
    def __init__(self, workflow_id: str, spec: dict[str, Any], url: str, namespace: str) -> None:
        self.workflow_id = workflow_id
        self.spec = AmqpTrigger.model_validate(spec)
        self.runtime = _Runtime(namespace)
        self.counts = ConsumerCounts(started_at=datetime.now(UTC))
        self.metrics = TriggerMetrics()
        self.waits: set[asyncio.Task[None]] = set()
        self.fires = FireBatcher(self._submit_fires)
        self.link = QueueLink(
            url,
            queue=self.spec.queue,
            dead_letter=self.spec.dead_letter,
            prefetch=self.spec.prefetch,
            counts=self.counts,
            handler=self._on_message,
            exchange=self.spec.publish.exchange if self.spec.publish else None,
        )
        self.link.start()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        """One delivery, from its fire to its ack. Runs as its own task (aio-pika's); the
        channel closing cancels it, leaving the message unacked, to be redelivered."""
        self.counts.consumed += 1
        delivery = _delivery(message)
        attempt = 0
        while True:
            submitted_at = datetime.now(UTC)
            try:
                fire = fire_for(self.workflow_id, self.spec, delivery, submitted_at)
                record = await self.fires.submit(fire)
            except Exception as exc:
                reason = refusal_reason(_unwrapped(exc))
                if reason is not None:
                    await self._dead_letter(message, delivery, reason)
                    return
                self.runtime.forget()
                self._counted(Outcome.RETRIED)
                await _retry_pause(self.spec.queue, delivery, exc, attempt)
                attempt += 1
                continue
            if not await self.link.ack(message):
                return
            duplicate = is_duplicate(record, submitted_at)
            self._counted(Outcome.DUPLICATE if duplicate else Outcome.STARTED)
            if self.spec.publish is not None:
                self._publish_when_ended(record.id)
            return

    async def _submit_fires(self, fires: list[Fire]) -> list[Answer]:
        """The fires of the messages handled at once, in one call (actors/_fire_batch.py)."""
        triggers = await self.runtime.actor(TRIGGERS_NAME)
        answers: list[Answer] = await triggers.submit_many.remote(fires)
        return answers

    async def _dead_letter(
        self, message: AbstractIncomingMessage, delivery: Delivery, reason: str
    ) -> None:
        headers = dead_letter_headers(
            delivery.headers,
            reason,
            queue=self.spec.queue,
            workflow_id=self.workflow_id,
            trigger_id=self.spec.id,
        )
        if await self.link.dead_letter(message, headers):
            self._counted(Outcome.DEAD_LETTERED)
            logger.warning(
                "queue %r: message %s dead-lettered to %r: %s",
                self.spec.queue,
                delivery.message_id or "(no id)",
                self.spec.dead_letter,
                reason,
            )

    def _counted(self, outcome: Outcome) -> None:
        self.counts.count(outcome)
        self.metrics.amqp_message(outcome.value)

    # --- publishing terminal events -----------------------------------------------------------

    def _publish_when_ended(self, execution_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._publish_end(execution_id))
        self.waits.add(task)
        task.add_done_callback(self.waits.discard)

    async def _publish_end(self, execution_id: str) -> None:
        publish = self.spec.publish
        assert publish is not None
        record = await self._ended(execution_id)
        event = terminal_event(record)
        attempt = 0
        while not self.link.closing:
            try:
                await self.link.publish(
                    json.dumps(event, default=str).encode(),
                    event_routing_key(publish, record.workflow_id, event["status"]),
                    message_id=f"{execution_id}:{record.status.value}",
                    headers={"x-hub-execution-id": execution_id},
                )
                self.counts.published += 1
                return
            except Exception as exc:  # the broker away: the robust connection comes back
                self.counts.publish_failures += 1
                logger.warning("event of %s not published yet: %s", execution_id, exc)
                await asyncio.sleep(retry_delay_s(attempt))
                attempt += 1

    async def _ended(self, execution_id: str) -> ExecutionRecord:
        """The execution once it ended, asked of the supervisor (again after its restarts)."""
        attempt = 0
        while True:
            try:
                supervisor = await self.runtime.actor(SUPERVISOR_NAME)
                record: ExecutionRecord = await supervisor.wait.remote(execution_id, WAIT_SLICE_S)
                if record.status.terminal:
                    return record
                # A restarted supervisor answers with the stored record: poll it.
                await asyncio.sleep(POLL_S)
            except Exception as exc:  # a slice ran out, or the supervisor is restarting
                logger.debug("waiting for %s: %s", execution_id, _unwrapped(exc))
                self.runtime.forget()
                await asyncio.sleep(retry_delay_s(attempt))
                attempt += 1

    # --- the TriggerActor's calls -----------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """Counts and connection state, for ``hub triggers ls`` (``error`` when it cannot
        reach the broker)."""
        return {
            **self.counts.as_status(),
            "waiting_to_publish": len(self.waits),
            "submit_calls": self.fires.calls,  # fewer than messages: they went in batches
        }

    async def stop(self) -> None:
        """Stop consuming and close the connection: unacked messages go back to the queue,
        events not yet published are dropped (best effort)."""
        for task in list(self.waits):
            task.cancel()
        await self.link.close()

    async def ping(self) -> bool:
        return True

    async def pid(self) -> int:
        return os.getpid()


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class AmqpControlActor:
    """The consumer of the control queue (hub/triggers/_control.py): starts, pauses, resumes
    and cancels runs on messages."""

    def __init__(self, queue: str, url: str, namespace: str) -> None:
        self.queue = queue
        self.runtime = _Runtime(namespace)
        self.counts = ConsumerCounts(started_at=datetime.now(UTC))
        self.metrics = TriggerMetrics()
        self.link = QueueLink(
            url,
            queue=queue,
            dead_letter=f"{queue}.dead",
            prefetch=CONTROL_PREFETCH,
            counts=self.counts,
            handler=self._on_message,
        )
        self.link.start()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.counts.consumed += 1
        delivery = _delivery(message)
        try:
            command = parse_control(delivery, message_type=message.type)
        except ControlMessageInvalid as exc:
            await self._refused(message, delivery, None, exc.message)
            return
        attempt = 0
        while True:
            started_at = datetime.now(UTC)
            try:
                outcome, answer = await self._act(command, delivery, started_at)
            except Exception as exc:
                reason = refusal_reason(_unwrapped(exc))
                if reason is not None:
                    await self._refused(message, delivery, command, reason)
                    return
                self.runtime.forget()
                self._counted(Outcome.RETRIED)
                await _retry_pause(self.queue, delivery, exc, attempt)
                attempt += 1
                continue
            if await self.link.ack(message):
                self._counted(outcome)
                await self.link.reply(message, json.dumps(answer).encode())
            return

    async def _act(
        self, command: ControlCommand, delivery: Delivery, started_at: datetime
    ) -> tuple[Outcome, dict[str, Any]]:
        supervisor = await self.runtime.actor(SUPERVISOR_NAME)
        if command.action == "workflow.start":
            assert command.workflow_id is not None
            record: ExecutionRecord = await supervisor.submit.remote(
                command.workflow_id,
                command.inputs,
                version=command.version,
                trigger="amqp",
                idempotency_key=start_key(command, delivery.message_id),
                trigger_info=start_info(delivery.message_id, delivery.routing_key),
            )
            duplicate = is_duplicate(record, started_at)
            outcome = Outcome.DUPLICATE if duplicate else Outcome.STARTED
            return outcome, reply(command, execution_id=record.id, status=record.status.value)
        recorder = await self.runtime.actor(RECORDER_NAME)
        assert command.execution_id is not None
        target: ExecutionRecord = await recorder.get_execution.remote(command.execution_id)
        if command.action == "workflow.cancel":
            reason = command.reason or f"cancelled by a message on {self.queue}"
            ended: ExecutionRecord = await supervisor.cancel.remote(target.id, reason)
            return Outcome.APPLIED, reply(command, execution_id=ended.id, status=ended.status)
        action = command.action.removeprefix("workflow.")
        view: DebugView = await supervisor.control.remote(target.id, action)
        return Outcome.APPLIED, reply(command, execution_id=target.id, status=view.status)

    async def _refused(
        self,
        message: AbstractIncomingMessage,
        delivery: Delivery,
        command: ControlCommand | None,
        reason: str,
    ) -> None:
        headers = dead_letter_headers(
            delivery.headers, reason, queue=self.queue, trigger_id=CONTROL_TRIGGER_ID
        )
        if await self.link.dead_letter(message, headers):
            self._counted(Outcome.DEAD_LETTERED)
            await self.link.reply(message, json.dumps(reply(command, error=reason)).encode())
            logger.warning("queue %r: control message dead-lettered: %s", self.queue, reason)

    def _counted(self, outcome: Outcome) -> None:
        self.counts.count(outcome)
        self.metrics.amqp_message(outcome.value)

    async def status(self) -> dict[str, Any]:
        return {"queue": self.queue, **self.counts.as_status()}

    async def stop(self) -> None:
        await self.link.close()

    async def ping(self) -> bool:
        return True


def control_consumer(namespace: str, queue: str, url: str) -> Any:
    """The control queue's consumer (created by the TriggerActor, which owns it)."""
    return AmqpControlActor.options(  # type: ignore[attr-defined]
        name=CONTROL_NAME, namespace=namespace, get_if_exists=True
    ).remote(queue, url, namespace)
