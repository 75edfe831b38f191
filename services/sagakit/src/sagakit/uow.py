"""Unit of work: one transaction holding the state change, its outbox rows and its inbox row.

Handlers use it the same way in every service:

    async with uow:
        booking = await uow.bookings.get(event.booking_id)
        booking.approve()
        await uow.commit()

Entering the unit of work for an incoming event records the event in the
inbox first; if it was already handled, entering raises `AlreadyProcessed`
and the handler never runs. Committing turns every event the touched
aggregates raised into an outbox row in the same transaction. A command sent with an
`Idempotency-Key` (`claiming`) stores the key on entering and its answer on committing,
in that same transaction (sagakit.idempotency).

This module holds only the abstract part (handlers depend on it); the
Postgres implementation is `sagakit.postgres.SqlUnitOfWork`.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.idempotency import Answer, Claim

Handler = Callable[[Any, Any], Awaitable[None]]
"""`async def handler(event: SomeSagaEvent, uow: ServiceUnitOfWork) -> None`."""

Arrival = tuple[Envelope, Mapping[str, str]]
"""An incoming event and the headers (trace context) it arrived with."""


class AlreadyProcessed(Exception):
    """The incoming event was handled before; nothing to do."""


class AbstractUnitOfWork(abc.ABC):
    """The transaction boundary seen by handlers; concrete classes bring repositories."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.seen: list[Aggregate] = []
        self.causation: Envelope | None = None
        self.consumer = ""
        self.read_only = False
        self.one_statement = False
        self.claim: Claim | None = None
        self.admitted = False

    def handling(self, envelope: Envelope, consumer: str, *, admitted: bool = False) -> Self:
        """Bind the unit of work to one incoming event; entering it dedupes via the inbox.

        `admitted`: the event's inbox row is already written in the joined batch's
        transaction (`admit`), so entering writes none. The binding lasts for one
        `async with` block.
        """
        self.causation = envelope
        self.consumer = consumer
        self.admitted = admitted
        return self

    def reading(self) -> Self:
        """Bind the unit of work to a read-only block (queries, no commit).

        No transaction is opened: each query sees what was committed when it ran, which
        is all READ COMMITTED gives anyway, and saves the BEGIN and ROLLBACK round trips.
        """
        self.read_only = True
        return self

    def single(self) -> Self:
        """Bind the unit of work to a block that writes with one statement and raises no
        event (an upsert whose result does not depend on what is stored).

        No transaction is opened: the statement is atomic by itself, and the BEGIN and
        COMMIT round trips are saved. `commit()` refuses events or an idempotency key.
        """
        self.one_statement = True
        return self

    def batch(self) -> Any:
        """A transaction the handlers of several incoming events can share (an async
        context manager with `commit()`), or None when this implementation has none."""
        return None

    def joining(self, batch: Any) -> Self:
        """Bind the unit of work to a `batch()` transaction for one `async with` block."""
        raise NotImplementedError(f"{type(self).__name__} does not share transactions")

    async def admit(self, batch: Any, consumer: str, arrivals: list[Arrival]) -> set[uuid.UUID]:
        """Record a batch's incoming events (each with the headers it came with) in
        `consumer`'s inbox, in the batch's transaction and with one statement; the event
        ids that were new. Their handlers then bind with `handling(..., admitted=True)`."""
        raise NotImplementedError(f"{type(self).__name__} does not share transactions")

    def claiming(self, claim: Claim | None) -> Self:
        """Bind the unit of work to a command sent with an idempotency key (None: without).

        Entering it stores the key, or raises `Replayed` with the answer stored by the
        command that used the key first (`KeyReused` if that was a different request);
        committing stores this command's answer with the key. Lasts one `async with`.
        """
        self.claim = claim
        return self

    async def __aenter__(self) -> Self:
        self.seen = []
        await self._begin()
        try:
            await self._admit()
        except BaseException:
            await self._end()
            self._unbind()
            raise
        return self

    async def _admit(self) -> None:
        causation = None if self.admitted else self.causation  # admitted: the row is there
        if causation is not None and not await self._record_inbox(self.consumer, causation):
            raise AlreadyProcessed(str(causation.event_id))
        if self.claim is not None:
            await self._claim_key(self.claim)  # waits for a request holding the same key

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._end()
        self._unbind()

    def _unbind(self) -> None:
        self.causation = None
        self.consumer = ""
        self.read_only = False
        self.one_statement = False
        self.claim = None
        self.admitted = False

    async def record_only(self) -> None:
        """Handle the bound incoming event when it changes nothing but what entering
        records (the inbox row, and whatever an implementation writes with it, such as
        booking's journal). Raises `AlreadyProcessed` for a duplicate.

        The same as `async with self: await self.commit()`; an implementation may do it
        cheaper (sagakit.postgres: one statement, no transaction of its own).
        """
        async with self:
            await self.commit()

    def track(self, aggregate: Aggregate) -> None:
        """Remember an aggregate so its events are stored when the transaction commits."""
        if all(seen is not aggregate for seen in self.seen):
            self.seen.append(aggregate)

    async def commit(self) -> None:
        """Commit the state change together with the events it raised."""
        if self.read_only:
            raise RuntimeError("a unit of work entered with reading() cannot commit")
        if self.one_statement and (self.claim is not None or any(a.events for a in self.seen)):
            raise RuntimeError("a unit of work entered with single() stores no event or key")
        causation_id = self.causation.event_id if self.causation else None
        outgoing = [
            (Envelope.wrap(event, self.producer, causation_id), aggregate)
            for aggregate in self.seen
            for event in aggregate.events
        ]
        if self.claim is not None:
            await self._store_answer(self.claim, self.claim.answer(self.seen))
        await self._commit(outgoing)
        for aggregate in self.seen:
            aggregate.events.clear()

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        """Insert the inbox row; False when the event was already there."""

    async def _claim_key(self, claim: Claim) -> None:
        """Store the key; raise `Replayed` or `KeyReused` when it was stored before."""
        raise NotImplementedError(f"{type(self).__name__} does not support idempotency keys")

    async def _store_answer(self, claim: Claim, answer: Answer | None) -> None:
        """Store the answer with the key (None: the command answers nothing, forget the key)."""
        raise NotImplementedError(f"{type(self).__name__} does not support idempotency keys")

    @abc.abstractmethod
    async def _commit(self, outgoing: list[tuple[Envelope, Aggregate]]) -> None:
        """Commit the transaction with one outbox row per envelope (raised by the aggregate)."""

    @abc.abstractmethod
    async def _end(self) -> None:
        """Roll back whatever was not committed and release the connection."""
