"""Reconcile requests: sagas that stopped moving get their events published again.

If Redis loses events after the relay published them (a restart without persistence,
a failover to a lagging replica), or a Pub/Sub subscriber was down when they were
published, their sagas stop. Every service keeps its published outbox rows for
OUTBOX_RETENTION_HOURS (sagakit.outbox). The booking service, which knows every
saga's state, finds sagas that have not moved for RECONCILE_AFTER_SECONDS and asks,
on the control channel `<EVENT_PREFIX>saga.reconcile`, every service to publish its
kept rows of those bookings again: same event id, same body, signed again by their
producer. A consumer that already handled one skips it (its inbox); one that never
got it finally does, and the saga moves on.

The control channel is Pub/Sub in both transports: a request is a nudge, repeated
while the saga stays stuck, so one that a stopped service missed costs a round, not a
saga. Its authority is an event's: only booking may publish on it (Redis ACL,
sagakit.acl), booking signs each request, and every service verifies the signature
with booking's public key before acting (sagakit.choreography: everyone hears booking).
Acting is safe even on a repeated request: a row is re-published at most once per
half RECONCILE_AFTER_SECONDS, however many replicas hear it (`OutboxRelay.republish`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.redis import RedisBroker
from faststream.redis.annotations import RedisChannelMessage

from sagakit import metrics
from sagakit.choreography import CONTROL_CHANNEL, CONTROL_OWNER
from sagakit.outbox import OutboxRelay
from sagakit.signing import SIGNATURE_HEADER, SigningKey, Verifier

log = logging.getLogger(__name__)

MAX_BOOKINGS = 500  # per request: a round with more stuck sagas sends several


def request_body(booking_ids: Sequence[uuid.UUID], trigger: str) -> bytes:
    """The signed bytes of one request."""
    return json.dumps(
        {
            "producer": CONTROL_OWNER,
            "booking_ids": [str(booking_id) for booking_id in booking_ids],
            "trigger": trigger,
            "requested_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


class ReconcileChannel:
    """Sends reconcile requests (booking) and answers them (every service)."""

    def __init__(
        self,
        broker: RedisBroker,
        prefix: str,
        service: str,
        relay: OutboxRelay,
        verifier: Verifier,
        signer: Callable[[], SigningKey | None],
        guard: timedelta,
    ) -> None:
        self.name = prefix + CONTROL_CHANNEL
        self._service = service
        self._relay = relay
        self._verifier = verifier
        self._signer = signer
        self._guard = guard
        self._broker = broker
        self._publisher: Any = None
        if service == CONTROL_OWNER:
            # Not in the AsyncAPI documents: they describe the saga's events, and this is
            # an operation (docs/reliability.md, "When the broker forgets", describes it).
            self._publisher = broker.publisher(channel=self.name, include_in_schema=False)
        broker.subscriber(channel=self.name, include_in_schema=False)(self._on_message)

    async def request(self, booking_ids: Sequence[uuid.UUID], trigger: str) -> int:
        """Ask every service to re-publish its events of these bookings; returns how many."""
        signer = self._signer()
        if self._publisher is None or signer is None:
            raise RuntimeError(f"only {CONTROL_OWNER} (with its signing key) sends requests")
        ids = list(booking_ids)
        for start in range(0, len(ids), MAX_BOOKINGS):
            body = request_body(ids[start : start + MAX_BOOKINGS], trigger)
            await self._publisher.publish(body, headers={SIGNATURE_HEADER: signer.sign(body)})
        metrics.SAGAS_RECONCILED.labels(self._service, trigger).inc(len(ids))
        if ids:
            log.info("reconcile (%s) asked for %d sagas", trigger, len(ids))
        return len(ids)

    async def _on_message(self, body: bytes) -> None:
        message: RedisChannelMessage = self._broker.context.get_local("message")
        await self.handle(message.body, message.headers)

    async def handle(self, body: bytes, headers: dict[str, Any]) -> int:
        """Check a request and re-publish this service's kept rows; returns how many."""
        booking_ids, problem = self._read(body, headers)
        if problem is not None:
            metrics.RECONCILE_REQUESTS.labels(self._service, "rejected").inc()
            log.warning("reconcile request refused: %s", problem)
            return 0
        published = await self._relay.republish(booking_ids, self._guard)
        metrics.RECONCILE_REQUESTS.labels(self._service, "handled").inc()
        metrics.EVENTS_REPUBLISHED.labels(self._service).inc(published)
        if published:
            log.info("reconcile: re-published %d events of %d sagas", published, len(booking_ids))
        return published

    def _read(self, body: bytes, headers: dict[str, Any]) -> tuple[list[uuid.UUID], str | None]:
        signature = headers.get(SIGNATURE_HEADER)
        problem = self._verifier.problem(
            CONTROL_OWNER, body, signature if isinstance(signature, str) else None
        )
        if problem is not None:
            return [], problem
        try:
            request = json.loads(body)
            if request.get("producer") != CONTROL_OWNER:
                return [], f"producer {request.get('producer')!r} may not ask to reconcile"
            return [uuid.UUID(value) for value in request["booking_ids"]], None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return [], f"malformed: {exc!r}"


StuckFinder = Callable[
    [Any, "Backoff", bool, Callable[[list[uuid.UUID]], Awaitable[int]]], Awaitable[list[uuid.UUID]]
]
"""A service's query for sagas that stopped moving (booking's): engine, backoff, force, send."""


class Backoff:
    """When a saga that stays stuck is asked about again: `after`, then twice as long ..."""

    def __init__(self, after: timedelta, longest: timedelta) -> None:
        self.after = after
        self.longest = max(after, longest)

    def next_in(self, attempts: int) -> timedelta:
        """How long after attempt number `attempts` (1, 2, ...) the next one may come."""
        factor: int = 2 ** min(max(attempts - 1, 0), 20)
        later: timedelta = self.after * factor
        return min(later, self.longest)


async def reconcile_stuck(
    find: StuckFinder, engine: Any, backoff: Backoff, channel: ReconcileChannel, force: bool
) -> list[uuid.UUID]:
    """One round: find the sagas that stopped moving and ask about them; returns their ids.

    `force` (an operator's `sagactl reconcile --stuck`): every stuck saga now, whatever
    its backoff. The request goes out inside the finder's transaction, so the attempt is
    counted only when it was sent.
    """
    trigger = "manual" if force else "periodic"
    return await find(engine, backoff, force, lambda ids: channel.request(ids, trigger))


async def reconcile_forever(
    find: StuckFinder,
    engine: Any,
    backoff: Backoff,
    channel: ReconcileChannel,
    interval: float,
) -> None:
    """A round every `interval` seconds until cancelled; a failed round waits for the next."""
    await asyncio.sleep(random.uniform(0, interval))  # replicas started together stay apart
    while True:
        try:
            await reconcile_stuck(find, engine, backoff, channel, force=False)
        except Exception as exc:  # the database or Redis is away: the next round tries again
            log.warning("reconcile round failed: %r", exc)
        await asyncio.sleep(interval)
