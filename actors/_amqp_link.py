"""One queue consumed over aio-pika's robust connection: the part the AMQP actors share.

It connects (again, with a growing delay, while the first connection fails; aio-pika's robust
connection reconnects by itself after that, restoring the queue and the consumer), declares the
queue and its dead-letter queue durable, hands each delivery to the actor's handler (each in
its own task, at most ``prefetch`` unacked), and offers what the handlers do with a message:
ack it, dead-letter it (a copy confirmed by the broker, then the ack), publish, reply. The
broker's state goes into the actor's ConsumerCounts (``connected``, ``error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from hub.triggers._amqp import ConsumerCounts, retry_delay_s

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
RECONNECT_S = 2.0  # aio-pika's robust connection: the pause between reconnection attempts

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class QueueLink:
    def __init__(
        self,
        url: str,
        *,
        queue: str,
        dead_letter: str,
        prefetch: int,
        counts: ConsumerCounts,
        handler: Handler,
        exchange: str | None = None,
    ) -> None:
        self.url = url
        self.queue = queue
        self.dead_letter_queue = dead_letter
        self.prefetch = prefetch
        self.counts = counts
        self.handler = handler
        self.exchange_name = exchange  # a topic exchange to publish to, declared durable
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.exchange: AbstractExchange | None = None
        self.closing = False
        self.runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.runner = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        attempt = 0
        while not self.closing:
            connection: AbstractRobustConnection | None = None
            try:
                connection = await aio_pika.connect_robust(
                    self.url, timeout=CONNECT_TIMEOUT_S, reconnect_interval=RECONNECT_S
                )
                await self._open(connection)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, unreachable, bad login, a queue's arguments
                self.counts.connected = False
                self.counts.error = f"queue {self.queue!r}: {type(exc).__name__}: {exc}"
                delay = retry_delay_s(attempt)
                logger.warning("%s; trying again in %.1fs", self.counts.error, delay)
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                attempt += 1
                await asyncio.sleep(delay)

    async def _open(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await channel.declare_queue(self.queue, durable=True)
        await channel.declare_queue(self.dead_letter_queue, durable=True)
        if self.exchange_name is not None:
            self.exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        self.connection, self.channel = connection, channel
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)
        await queue.consume(self.handler)
        self.counts.connected, self.counts.error = True, None

    def _on_close(self, _sender: Any, exc: BaseException | None = None) -> None:
        self.counts.connected = False
        if not self.closing:
            self.counts.error = f"connection to the broker lost: {exc or 'closed'}; reconnecting"

    def _on_reconnect(self, _sender: Any) -> None:
        self.counts.connected, self.counts.error = True, None

    # --- what handlers do with a message --------------------------------------------------

    async def ack(self, message: AbstractIncomingMessage) -> bool:
        """Ack; False when the channel it came on is gone (the broker redelivers it)."""
        try:
            await message.ack()
        except Exception as exc:
            logger.warning(
                "queue %r: message %s not acked (%s); it will be redelivered",
                self.queue,
                message.message_id or "(no id)",
                exc,
            )
            return False
        return True

    async def dead_letter(
        self, message: AbstractIncomingMessage, headers: Mapping[str, Any]
    ) -> bool:
        """Publish a copy (body, properties, ``headers``) to the dead-letter queue, confirmed by
        the broker, then ack the message. False when either failed: a copy not confirmed puts
        the message back in its queue (after a pause), to be refused again."""
        assert self.channel is not None
        copy = aio_pika.Message(
            message.body,
            headers=dict(headers),
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=message.priority,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            message_id=message.message_id,
            timestamp=message.timestamp,
            type=message.type,
            app_id=message.app_id,
        )
        try:
            await self.channel.default_exchange.publish(copy, routing_key=self.dead_letter_queue)
        except Exception as exc:
            logger.warning("queue %r: dead-lettering failed: %s", self.queue, exc)
            await asyncio.sleep(retry_delay_s(0))
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return False
        return await self.ack(message)

    async def publish(self, body: bytes, routing_key: str, **properties: Any) -> None:
        """Publish JSON ``body`` to the link's exchange (the default exchange without one),
        persistent, confirmed by the broker."""
        exchange = self.exchange
        if exchange is None:
            assert self.channel is not None
            exchange = self.channel.default_exchange
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                **properties,
            ),
            routing_key=routing_key,
        )

    async def reply(self, message: AbstractIncomingMessage, body: bytes) -> None:
        """Answer a message that names a ``reply_to`` queue (best effort)."""
        if not message.reply_to or self.channel is None:
            return
        try:
            await self.channel.default_exchange.publish(
                aio_pika.Message(
                    body, content_type="application/json", correlation_id=message.correlation_id
                ),
                routing_key=message.reply_to,
            )
        except Exception as exc:
            logger.warning("queue %r: no reply sent to %r: %s", self.queue, message.reply_to, exc)

    async def close(self) -> None:
        """Stop consuming and close: unacked messages go back to the queue."""
        self.closing = True
        if self.runner is not None:
            self.runner.cancel()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        self.counts.connected = False
