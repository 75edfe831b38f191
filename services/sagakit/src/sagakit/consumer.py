"""What happens to one incoming message: parse, dedupe, handle, then ack, retry or dead-letter.

Streams: the message is acked only after the handler's transaction committed
(or the message was a duplicate, or was dead-lettered). A failed message stays
pending; another read claims it after `claim_idle_ms` and tries again. On the
`max_deliveries`-th failure it goes to the dead-letter stream with the error.
A message that is malformed can never succeed and is dead-lettered at once.

Pub/Sub has no redelivery, so a failed message is retried in process with a
short backoff, then dead-lettered. A subscriber that is down misses messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from sagakit.deadletter import DeadLetterQueue, Failure
from sagakit.events import MalformedEvent, SagaEvent, parse_envelope
from sagakit.tracing import continued
from sagakit.uow import AbstractUnitOfWork, AlreadyProcessed, Handler

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """How one delivery ended."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    RETRY = "retry"


@dataclass(frozen=True)
class Delivery:
    """One received message, independent of the transport."""

    origin: str
    origin_id: str
    body: bytes
    raw: Mapping[bytes, bytes]
    headers: Mapping[str, str] = field(default_factory=dict)
    deliveries: int = 1


class StreamMessage(Protocol):
    """The part of FastStream's stream message the policy needs."""

    async def ack(self) -> None: ...
    async def get_delivery_count(self) -> int: ...


class EventConsumer:
    """Runs one service's handlers for incoming messages under the delivery policy."""

    def __init__(
        self,
        group: str,
        new_uow: Callable[[], AbstractUnitOfWork],
        dead_letters: DeadLetterQueue,
        max_deliveries: int,
        transport: str,
    ) -> None:
        self.group = group
        self._new_uow = new_uow
        self._dead_letters = dead_letters
        self._max_deliveries = max_deliveries
        self._transport = transport

    async def handle(self, delivery: Delivery, handler: Handler) -> Outcome:
        """Parse and handle one message; handler errors propagate to the caller."""
        try:
            envelope = parse_envelope(delivery.body)
            event: SagaEvent = envelope.event()
        except MalformedEvent as exc:
            await self.dead_letter(delivery, f"malformed: {exc}")
            return Outcome.DEAD_LETTERED
        try:
            with continued(delivery.headers):
                await handler(event, self._new_uow().handling(envelope, self.group))
        except AlreadyProcessed:
            log.info("duplicate %s %s skipped", envelope.event_type, envelope.event_id)
            return Outcome.DUPLICATE
        return Outcome.HANDLED

    async def on_stream(
        self, message: StreamMessage, delivery: Delivery, handler: Handler, reclaimed: bool
    ) -> Outcome:
        """Streams policy: ack after commit; leave failures pending; dead-letter the last one."""
        if reclaimed:
            count = await message.get_delivery_count()
            if count > self._max_deliveries:
                error = f"gave up after {count - 1} deliveries that never completed"
                await self.dead_letter(_with_count(delivery, count - 1), error)
                await message.ack()
                return Outcome.DEAD_LETTERED
        try:
            outcome = await self.handle(delivery, handler)
        except Exception as exc:
            count = await message.get_delivery_count()
            if count < self._max_deliveries:
                log.warning("delivery %d of %s failed, will retry: %r", count, delivery.origin, exc)
                return Outcome.RETRY
            await self.dead_letter(_with_count(delivery, count), repr(exc))
            outcome = Outcome.DEAD_LETTERED
        await message.ack()
        return outcome

    async def on_channel(self, delivery: Delivery, handler: Handler) -> Outcome:
        """Pub/Sub policy: retry in process with backoff, then dead-letter."""
        for attempt in range(1, self._max_deliveries + 1):
            try:
                return await self.handle(_with_count(delivery, attempt), handler)
            except Exception as exc:
                if attempt == self._max_deliveries:
                    await self.dead_letter(_with_count(delivery, attempt), repr(exc))
                    return Outcome.DEAD_LETTERED
                log.warning("attempt %d on %s failed, retrying: %r", attempt, delivery.origin, exc)
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        return Outcome.DEAD_LETTERED  # unreachable: max_deliveries >= 1

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        """Move a message to the dead-letter stream with its origin and the error."""
        event_type, event_id = _identify(delivery.body)
        await self._dead_letters.add(
            Failure(
                origin=delivery.origin,
                origin_id=delivery.origin_id,
                transport=self._transport,
                consumer=self.group,
                error=error,
                deliveries=delivery.deliveries,
                raw=delivery.raw,
                event_type=event_type,
                event_id=event_id,
            )
        )
        log.error("dead-lettered message from %s: %s", delivery.origin, error)


def _with_count(delivery: Delivery, count: int) -> Delivery:
    return replace(delivery, deliveries=count)


def _identify(body: bytes) -> tuple[str, str]:
    """Best-effort event type and id of a message, for the dead-letter entry."""
    try:
        envelope = parse_envelope(body)
    except MalformedEvent:
        return "", ""
    return envelope.event_type.value, str(envelope.event_id)
