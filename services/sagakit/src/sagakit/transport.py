"""Redis transport on FastStream: one stream (or channel) per event type.

Streams (the default): every service reads each stream it needs through its
own consumer group, so each service gets every event once and a service that
is down catches up when it returns. Two readers share the group and the
consumer name: one reads new entries, up to `consume_batch_size` per XREADGROUP, and
handles them as one batch (one transaction: sagakit.consumer), acked with the next read
(sagakit.reader); the other, a FastStream subscriber, claims entries left pending longer
than `claim_idle_ms` (by a crash or a failed attempt) and handles them one by one.

Spans: every published message gets a producer span and every handled one a consumer
span, its child (sagakit.tracing), so a saga is one trace across the hops.

Pub/Sub (`EVENT_TRANSPORT=pubsub`): the same names as channels, each heard by a
listener of ours (sagakit.reader) that hands its messages to a batcher; fire and
forget, so a subscriber that is down misses what was published meanwhile, until the
reconciler has it published again (sagakit.reconcile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage

from sagakit import groups, metrics
from sagakit.batching import ChannelBatcher
from sagakit.consumer import EventConsumer
from sagakit.delivery import Delivery
from sagakit.entries import DeferredAck, stream_delivery
from sagakit.events import EventType, envelope_model
from sagakit.outbox import OutboxMessage
from sagakit.reader import ChannelListener, ReadLoop, StreamReader
from sagakit.settings import ServiceSettings, Transport
from sagakit.tracing import producing
from sagakit.uow import Handler
from sagakit.wire import DATA_FIELD, JsonMessageFormat, frame, undecoded

if TYPE_CHECKING:
    from redis.asyncio import Redis

EVENT_DESCRIPTIONS: dict[EventType, str] = {
    EventType.CREATED_BOOKING_EVENT: "Booking created (pending); the manager decides on it.",
    EventType.APPROVED_BOOKING_EVENT: "Manager approved the booking; billing issues a bill.",
    EventType.REJECTED_BOOKING_EVENT: "Manager rejected the booking; the saga ends rejected.",
    EventType.BILLED_BOOKING_EVENT: "A bill exists; payment opens a payment request.",
    EventType.PAID_BOOKING_EVENT: "The customer paid; invoice generates the invoice.",
    EventType.INSUFFICIENT_FUND_EVENT: "Not enough credit; booking and bill become failed.",
    EventType.INVOICE_GENERATED_EVENT: "Invoice generated; the booking becomes reserved.",
    EventType.PAYMENT_EXPIRED_EVENT: "Not paid in time; booking expired, bill cancelled.",
}


class EventBus:
    """The service's FastStream broker with its publishers and subscribers."""

    def __init__(self, settings: ServiceSettings, redis: Redis) -> None:
        self.settings = settings
        self.transport = settings.event_transport
        # The live broker: the claim of pending stream entries. Publishing is a plain
        # XADD/PUBLISH and new entries and channel messages are read by our own loops
        # (sagakit.reader), so it runs nothing per message.
        self.broker = _broker(settings)
        # Never started: it describes what this service publishes and consumes (AsyncAPI).
        self.documented = _broker(settings)
        self._redis = redis
        self._publishers: dict[str, Any] = {}
        self._groups: list[tuple[str, str]] = []  # (stream, group) read by this process
        self._readers: list[ReadLoop] = []  # new entries per (stream, group), or a channel
        self._batchers: list[ChannelBatcher] = []  # Pub/Sub: one per channel

    @property
    def groups(self) -> list[tuple[str, str]]:
        """The (stream, consumer group) pairs this process reads (streams transport)."""
        return list(self._groups)

    async def connect(self) -> None:
        """Check that Redis answers and create the consumer groups (streams).

        From then on, events for this service wait in its groups even while it does
        not consume yet.
        """
        await self._redis.ping()
        await self.ensure_groups()

    async def ensure_groups(self) -> list[tuple[str, str]]:
        """Create the consumer groups that do not exist (at the stream's start); returns them."""
        return await groups.create_groups(self._redis, self._groups)

    @property
    def subscribers(self) -> list[Any]:
        """Everything that consumes: the stream readers and FastStream's subscribers."""
        return [*self._readers, *self.broker.subscribers]

    async def start(self) -> None:
        """Start the broker (the claim subscribers), then the read loops."""
        try:
            await self.broker.start()
            for reader in self._readers:
                await reader.start()
        except BaseException:
            await self.stop_readers()
            await self.broker.stop()  # a half-started broker would start twice next time
            raise

    async def stop_readers(self) -> None:
        """Stop the read loops; the stream batches in hand finish and are acked."""
        timeout = self.settings.shutdown_consumers_seconds
        await asyncio.gather(*(reader.stop(timeout) for reader in self._readers))

    async def stop_consuming(self) -> int:
        """Stop reading; the messages in hand finish and are acked. Returns how many
        entries that were read but not started went back to the group."""
        await self.stop_readers()
        await asyncio.gather(*(sub.stop() for sub in self.broker.subscribers))
        await asyncio.gather(*(batcher.drain() for batcher in self._batchers))
        handed = 0
        for stream, group in self._groups:
            consumer, idle = self.settings.consumer_name, self.settings.claim_idle_ms
            handed += await groups.hand_back(self._redis, stream, group, consumer, idle)
        return handed

    def name(self, event_type: EventType | str) -> str:
        """The stream or channel an event type travels on."""
        return f"{self.settings.event_prefix}{event_type}"

    def declare_publishers(self, event_types: Iterable[EventType]) -> None:
        """Register what this service publishes (also documents it in AsyncAPI)."""
        for event_type in event_types:
            name = self.name(event_type)
            options: dict[str, Any] = {
                "title": f"{self.settings.service_name}:{event_type}",
                "description": EVENT_DESCRIPTIONS[event_type],
                "schema": envelope_model(event_type),
            }
            if self.transport is Transport.STREAMS:
                stream = StreamSub(name, maxlen=self.settings.stream_maxlen)
                self._publishers[event_type] = self.documented.publisher(stream=stream, **options)
            else:
                self._publishers[event_type] = self.documented.publisher(channel=name, **options)

    async def publish(self, messages: list[OutboxMessage]) -> None:
        """Publish a batch in one round trip (a non-transactional pipeline).

        Each message is published in the trace context stored with its outbox
        row, so its producer span is a child of the step that raised it. The
        publishers declared with FastStream (`documented`) describe the channels; the
        messages go out with plain XADD or PUBLISH in FastStream's wire format
        (`wire.frame`): its publisher's per-message layers cost more than the command.
        """
        undeclared = {message.event_type for message in messages} - self._publishers.keys()
        if undeclared:
            raise ValueError(f"{sorted(undeclared)} not declared as published here")
        spans = []
        streams = self.transport is Transport.STREAMS
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                name = self.name(message.event_type)
                headers, span = producing(message.headers, name)
                spans.append(span)
                data = frame(message.body, {"correlation_id": message.event_id, **headers})
                if streams:
                    pipe.xadd(name, {DATA_FIELD: data}, maxlen=self.settings.stream_maxlen)
                else:
                    pipe.publish(name, data)
            await pipe.execute()
        for span in spans:
            span.end()
        for message in messages:
            metrics.EVENTS_PUBLISHED.labels(self.settings.service_name, message.event_type).inc()

    def subscribe(
        self,
        event_type: EventType,
        consumer: EventConsumer,
        handler: Handler,
        *,
        linger: float = 0.0,
    ) -> None:
        """Deliver one event type to a handler under the consumer's delivery policy.

        `linger` > 0: nothing waits for these events, so after each batch the reader
        waits that many seconds and then takes what arrived meanwhile as the next batch.
        """
        if self.transport is Transport.STREAMS:
            self._subscribe_stream(event_type, consumer, handler, linger)
        else:
            self._subscribe_channel(event_type, consumer, handler, linger)

    def _subscribe_stream(
        self, event_type: EventType, consumer: EventConsumer, handler: Handler, linger: float
    ) -> None:
        settings = self.settings
        self._groups.append((self.name(event_type), consumer.group))
        common: dict[str, Any] = {
            "group": consumer.group,
            "consumer": settings.consumer_name,
            "polling_interval": settings.poll_interval_ms,
        }
        # Looking for abandoned messages is not urgent: a quarter of the idle time they
        # must reach anyway, instead of an XAUTOCLAIM round trip every poll interval.
        reclaim = {
            **common,
            "polling_interval": max(settings.poll_interval_ms, settings.claim_idle_ms // 4),
        }
        stale = StreamSub(self.name(event_type), min_idle_time=settings.claim_idle_ms, **reclaim)

        async def on_batch(entries: list[Delivery]) -> list[str]:
            return await self._on_batch(entries, consumer, handler)

        self._readers.append(
            StreamReader(
                self._redis,
                self.name(event_type),
                consumer.group,
                settings.consumer_name,
                count=settings.consume_batch_size,
                block_ms=settings.poll_interval_ms,
                handle=on_batch,
                linger=linger,
            )
        )

        async def on_reclaimed(body: bytes) -> None:
            message: RedisStreamMessage = self._current()
            await consumer.on_stream(message, stream_delivery(message), handler, reclaimed=True)

        # The reader takes new entries; this subscriber, the ones left pending.
        self.broker.subscriber(
            stream=stale, ack_policy=AckPolicy.MANUAL, decoder=undecoded, include_in_schema=False
        )(on_reclaimed)
        self._document(event_type, consumer, stream=stale)

    async def _on_batch(
        self, entries: list[Delivery], consumer: EventConsumer, handler: Handler
    ) -> list[str]:
        """One read's entries: as one batch, else one by one. Returns the ids to ack."""
        outcomes = await consumer.handle_batch(entries, handler) if len(entries) > 1 else None
        if outcomes is not None:
            return [delivery.origin_id for delivery in entries]
        acked: list[str] = []
        for delivery in entries:
            entry = DeferredAck(self._redis, delivery.origin, consumer.group, delivery.origin_id)
            await consumer.on_stream(entry, delivery, handler, reclaimed=False)
            acked += entry.acked
        return acked

    def _current(self) -> Any:
        """The message being handled (FastStream keeps it in its context)."""
        return self.broker.context.get_local("message")

    def _subscribe_channel(
        self, event_type: EventType, consumer: EventConsumer, handler: Handler, linger: float
    ) -> None:
        size = self.settings.consume_batch_size
        batcher = ChannelBatcher(consumer, handler, size, linger=linger)
        self._batchers.append(batcher)
        name = self.name(event_type)
        poll = self.settings.poll_interval_ms / 1000
        self._readers.append(
            ChannelListener(self._redis, name, poll_seconds=poll, deliver=batcher.put)
        )
        self._document(event_type, consumer, channel=name)

    def _document(self, event_type: EventType, consumer: EventConsumer, **source: Any) -> None:
        """Describe a consumed stream or channel in AsyncAPI (nothing runs it)."""
        self.documented.subscriber(
            **source,
            decoder=undecoded,
            title=f"{consumer.group}:consume:{event_type}",
            description=EVENT_DESCRIPTIONS[event_type],
        )(_described_only)


async def _described_only(body: bytes) -> None:
    raise AssertionError("a subscriber of the documenting broker never runs")


def _broker(settings: ServiceSettings) -> RedisBroker:
    return RedisBroker(
        settings.redis_url,
        message_format=JsonMessageFormat,
        logger=_broker_logger(),
        log_level=logging.DEBUG,  # one line per message is too much at INFO
        # Stopping, the message in hand may take this long to finish (and be acked).
        graceful_timeout=settings.shutdown_consumers_seconds,
        description=f"Events of the {settings.service_name} service",
        # No dependency injection: our handlers take the message from the context
        # (`_current`). With it, FastStream resolves the message argument in a worker
        # thread, a thread hop per message that cost more than the handler's own work.
        apply_types=False,
    )


def _broker_logger() -> logging.Logger:
    # FastStream narrates its task lifecycle at INFO; keep that for LOG_LEVEL=DEBUG.
    logger = logging.getLogger("sagakit.broker")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    return logger
