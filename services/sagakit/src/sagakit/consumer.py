"""What happens to one incoming message: parse, dedupe, handle, then ack, retry or dead-letter.

Streams: the message is acked only after the handler's transaction committed
(or the message was a duplicate, or was dead-lettered). A failed message stays
pending; another read claims it after `claim_idle_ms` and tries again. On the
`max_deliveries`-th failure it goes to the dead-letter stream with the error.
A message that is malformed can never succeed and is dead-lettered at once; so is
one that fails the authenticity checks (wrong stream, a producer that does not own
its event type, a missing or wrong signature: sagakit.authenticity), never handled.

Streams entries are read in batches. A batch's events are handled in one transaction
(`handle_batch`): each handler runs as usual, their outbox rows are inserted together and
committed once, and the caller acks every id of the batch in one XACK. If any handler
fails, the whole transaction rolls back and the batch's events go through the policy
above one by one, so a poison event is retried and dead-lettered alone.

Pub/Sub has no redelivery, so a failed message is retried in process with a
short backoff, then dead-lettered. A subscriber that is down misses messages (the
reconciler has them published again: sagakit.reconcile).

On both transports a handler that cannot reach Postgres or Redis (sagakit.unavailable:
a restart, a failover, a cut link) is retried in process, with a backoff of up to a
second, for as long as `outage_seconds`: an outage is not the message's fault, and
counting it as a failed delivery would dead-letter healthy events after a few seconds.
Only when the outage lasts longer does the failure count as one delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum

from sagakit import metrics
from sagakit.authenticity import Authenticity
from sagakit.deadletter import DeadLetterQueue, Failure
from sagakit.delivery import Delivery, Parsed, StreamMessage, parse
from sagakit.logs import log_context
from sagakit.tracing import consuming
from sagakit.unavailable import unreachable
from sagakit.uow import AbstractUnitOfWork, AlreadyProcessed, Handler

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """How one delivery ended."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    RETRY = "retry"


class EventConsumer:
    """Runs one service's handlers for incoming messages under the delivery policy."""

    def __init__(
        self,
        group: str,
        new_uow: Callable[[], AbstractUnitOfWork],
        dead_letters: DeadLetterQueue,
        max_deliveries: int,
        transport: str,
        authenticity: Authenticity,
        outage_seconds: float = 60.0,
    ) -> None:
        self.group = group
        self._outage_seconds = outage_seconds
        self._new_uow = new_uow
        self._dead_letters = dead_letters
        self._max_deliveries = max_deliveries
        self._transport = transport
        self._authenticity = authenticity

    async def on_stream(
        self, message: StreamMessage, delivery: Delivery, handler: Handler, reclaimed: bool
    ) -> Outcome:
        """Streams policy: ack after commit; leave failures pending; dead-letter the last one."""
        parsed = self._read(delivery)
        with self._scope(delivery, parsed):
            outcome = await self._stream_policy(message, delivery, parsed, handler, reclaimed)
        self._count(parsed, outcome)
        return outcome

    async def handle_batch(
        self, deliveries: list[Delivery], handler: Handler
    ) -> list[Outcome] | None:
        """Handle well-formed deliveries in one shared transaction; their outcomes in order,
        or None when the batch failed and rolled back (the caller then takes the policy
        one by one). A malformed or rejected delivery fails the batch too: the one-by-one
        path dead-letters it."""
        parsed = [self._read(delivery) for delivery in deliveries]
        opener = self._new_uow()
        batch = opener.batch()
        if batch is None or any(p.event is None for p in parsed):
            return None
        outcomes: list[Outcome] = [Outcome.HANDLED] * len(parsed)
        timings = [0.0] * len(parsed)
        try:
            async with batch:
                arrivals = [
                    (p.envelope, d.headers)
                    for p, d in zip(parsed, deliveries, strict=True)
                    if p.envelope is not None
                ]
                fresh = await opener.admit(batch, self.group, arrivals)
                for i in _lock_order(parsed):
                    started = time.perf_counter()
                    with self._scope(deliveries[i], parsed[i]):
                        outcomes[i] = await self._handle_joined(batch, parsed[i], handler, fresh)
                    timings[i] = time.perf_counter() - started
                await batch.commit()
        except Exception as exc:
            log.warning("batch of %d rolled back, handling one by one: %r", len(deliveries), exc)
            return None
        for one, outcome, elapsed in zip(parsed, outcomes, timings, strict=True):
            if outcome is Outcome.HANDLED:
                metrics.HANDLER_DURATION.labels(self.group, one.event_type).observe(elapsed)
            self._count(one, outcome)
        return outcomes

    async def _handle_joined(
        self, batch: object, parsed: Parsed, handler: Handler, fresh: set[uuid.UUID]
    ) -> Outcome:
        """One handler in the batch's transaction; `fresh`: the ids the batch's inbox
        insert found new, each taken by its first delivery (one event twice in a batch
        is handled once)."""
        envelope, event = parsed.envelope, parsed.event
        assert envelope is not None and event is not None
        if envelope.event_id not in fresh:
            log.info("duplicate %s skipped", envelope.event_id)
            return Outcome.DUPLICATE
        fresh.discard(envelope.event_id)
        await handler(
            event, self._new_uow().joining(batch).handling(envelope, self.group, admitted=True)
        )
        return Outcome.HANDLED

    async def on_channel(self, delivery: Delivery, handler: Handler) -> Outcome:
        """Pub/Sub policy: retry in process with backoff, then dead-letter."""
        parsed = self._read(delivery)
        with self._scope(delivery, parsed):
            outcome = await self._channel_policy(delivery, parsed, handler)
        self._count(parsed, outcome)
        return outcome

    async def _stream_policy(
        self,
        message: StreamMessage,
        delivery: Delivery,
        parsed: Parsed,
        handler: Handler,
        reclaimed: bool,
    ) -> Outcome:
        if reclaimed:
            count = await message.get_delivery_count()
            if count > self._max_deliveries:
                error = f"gave up after {count - 1} deliveries that never completed"
                await self.dead_letter(replace(delivery, deliveries=count - 1), error)
                await message.ack()
                return Outcome.DEAD_LETTERED
        try:
            outcome = await self._handle(delivery, parsed, handler)
        except Exception as exc:
            count = await message.get_delivery_count()
            if count < self._max_deliveries:
                log.warning("delivery %d of %s failed, will retry: %r", count, delivery.origin, exc)
                return Outcome.RETRY
            await self.dead_letter(replace(delivery, deliveries=count), repr(exc))
            outcome = Outcome.DEAD_LETTERED
        await message.ack()
        return outcome

    async def _channel_policy(
        self, delivery: Delivery, parsed: Parsed, handler: Handler
    ) -> Outcome:
        for attempt in range(1, self._max_deliveries + 1):
            try:
                return await self._handle(replace(delivery, deliveries=attempt), parsed, handler)
            except Exception as exc:
                if attempt == self._max_deliveries:
                    await self.dead_letter(replace(delivery, deliveries=attempt), repr(exc))
                    return Outcome.DEAD_LETTERED
                self._count(parsed, Outcome.RETRY)
                log.warning("attempt %d on %s failed, retrying: %r", attempt, delivery.origin, exc)
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        return Outcome.DEAD_LETTERED  # unreachable: max_deliveries >= 1

    async def _handle(self, delivery: Delivery, parsed: Parsed, handler: Handler) -> Outcome:
        """Run the handler, again while Postgres or Redis is out of reach (up to
        `outage_seconds`); any other error, or a longer outage, propagates to the policy."""
        deadline = time.monotonic() + self._outage_seconds
        pause = 0.05
        while True:
            try:
                return await self._handle_once(delivery, parsed, handler)
            except Exception as exc:
                if not unreachable(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("a dependency is out of reach, retrying in %.2fs: %r", pause, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _handle_once(self, delivery: Delivery, parsed: Parsed, handler: Handler) -> Outcome:
        """Run the handler once; its errors propagate."""
        if parsed.envelope is None or parsed.event is None:
            await self.dead_letter(delivery, parsed.error)  # malformed or rejected: never handled
            return Outcome.DEAD_LETTERED
        started = time.perf_counter()
        try:
            await handler(parsed.event, self._new_uow().handling(parsed.envelope, self.group))
        except AlreadyProcessed:
            log.info("duplicate %s skipped", parsed.envelope.event_id)
            return Outcome.DUPLICATE
        elapsed = time.perf_counter() - started
        metrics.HANDLER_DURATION.labels(self.group, parsed.event_type).observe(elapsed)
        return Outcome.HANDLED

    @contextmanager
    def _scope(self, delivery: Delivery, parsed: Parsed) -> Iterator[None]:
        booking_id = str(parsed.envelope.booking_id) if parsed.envelope else None
        with (
            consuming(delivery.headers, delivery.origin, delivery.origin_id, booking_id),
            log_context(event_type=parsed.event_type, booking_id=booking_id),
        ):
            yield

    def _count(self, parsed: Parsed, outcome: Outcome) -> None:
        label = "retried" if outcome is Outcome.RETRY else outcome.value
        metrics.EVENTS_CONSUMED.labels(self.group, parsed.event_type, label).inc()

    def _read(self, delivery: Delivery) -> Parsed:
        """Decode a delivery once; an envelope that fails the authenticity checks has no event."""
        parsed = parse(delivery)
        if parsed.envelope is None:
            return parsed
        problem = self._authenticity.problem(
            delivery.origin, parsed.envelope, delivery.body, delivery.headers
        )
        if problem is not None:
            return Parsed(parsed.envelope, None, f"rejected: {problem}")
        return parsed

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        """Move a message to the dead-letter stream with its origin and the error."""
        parsed = parse(delivery)
        event_id = str(parsed.envelope.event_id) if parsed.envelope else ""
        await self._dead_letters.add(
            Failure(
                origin=delivery.origin,
                origin_id=delivery.origin_id,
                transport=self._transport,
                consumer=self.group,
                error=error,
                deliveries=delivery.deliveries,
                raw=delivery.raw,
                event_type=parsed.event_type,
                event_id=event_id,
            )
        )
        log.error("dead-lettered message from %s: %s", delivery.origin, error)


def _lock_order(parsed: list[Parsed]) -> list[int]:
    """The order a batch is handled in: by booking id, and as delivered for one booking.

    The handlers lock their booking's rows. Batches of different streams run at once, and
    two that took two bookings in opposite orders deadlocked: Postgres found it after
    `deadlock_timeout` (1 s) and rolled one back, which then went one by one. Taken in
    one global order, a batch waits for the other instead."""
    return sorted(range(len(parsed)), key=lambda i: _booking_of(parsed[i]))


def _booking_of(parsed: Parsed) -> uuid.UUID:
    assert parsed.envelope is not None  # handle_batch takes only parsed envelopes
    return parsed.envelope.booking_id
