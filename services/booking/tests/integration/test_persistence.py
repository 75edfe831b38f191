import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select

from booking.adapters.orm import bookings, messaging, metadata, saga_journal
from booking.domain.commands import CreateBooking
from booking.domain.model import Booking, BookingStatus
from booking.service_layer import handlers
from sagakit.events import Envelope, PaidBooking, RejectedBooking
from sagakit.sql import Sql
from sagakit.testing import DATABASE_PREFIX, check_migrations, count_rows
from sagakit.tracing import continued
from sagakit.uow import AlreadyProcessed


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations("booking:migrations", metadata, f"{DATABASE_PREFIX}booking_migrations")


async def test_booking_and_its_event_commit_together(engine, new_uow) -> None:
    command = CreateBooking(customer_id="alice", item="Room", amount=Decimal("99.90"))
    booking = await handlers.create_booking(command, new_uow())
    assert await count_rows(engine, bookings, id=booking.id) == 1
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(messaging.outbox).where(messaging.outbox.c.booking_id == booking.id)
            )
        ).one()
    envelope = Envelope.model_validate_json(row.body)
    assert envelope.event_type == "CREATED_BOOKING_EVENT"
    assert envelope.payload["amount"] == "99.90"


async def test_a_failed_transaction_leaves_neither_state_nor_event(engine, new_uow) -> None:
    booking = Booking.create("alice", "Room", Decimal("10.00"))
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.bookings.add(booking)
            raise RuntimeError("crash before commit")
    assert await count_rows(engine, bookings, id=booking.id) == 0
    assert await count_rows(engine, messaging.outbox, booking_id=booking.id) == 0


async def test_an_event_delivered_twice_changes_state_once(engine, new_uow) -> None:
    command = CreateBooking(customer_id="bob", item="Room", amount=Decimal("10.00"))
    booking = await handlers.create_booking(command, new_uow())
    event = RejectedBooking(booking_id=booking.id, customer_id="bob", reason="full")
    envelope = Envelope.wrap(event, "manager", causation_id=None)
    await handlers.rejected_booking(event, new_uow().handling(envelope, "booking"))
    with pytest.raises(AlreadyProcessed):
        await handlers.rejected_booking(event, new_uow().handling(envelope, "booking"))
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 1
    assert await count_rows(engine, saga_journal, event_id=envelope.event_id) == 1
    async with new_uow() as uow:
        stored = await uow.bookings.get(booking.id)
    assert stored is not None and stored.status is BookingStatus.REJECTED


async def test_unknown_booking_event_is_not_recorded_as_handled(engine, new_uow) -> None:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="bob", reason="full")
    envelope = Envelope.wrap(event, "manager", causation_id=None)
    with pytest.raises(LookupError):
        await handlers.rejected_booking(event, new_uow().handling(envelope, "booking"))
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 0
    assert await count_rows(engine, saga_journal, event_id=envelope.event_id) == 0


async def test_a_journal_entry_records_the_envelope_and_the_handling_trace(engine, new_uow) -> None:
    event = PaidBooking(
        booking_id=uuid.uuid4(), customer_id="eve", item="R", amount=1, paid_at=datetime.now(UTC)
    )
    envelope = Envelope.wrap(event, "payment", causation_id=uuid.uuid4())
    trace = "5bf92f3577b34da6a3ce929d0e0e4736"
    with continued({"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}):
        await handlers.paid_booking(event, new_uow().handling(envelope, "booking"))
    async with new_uow() as uow:
        [entry] = await uow.journal.entries(event.booking_id)
    assert entry.event_id == envelope.event_id and entry.causation_id == envelope.causation_id
    assert (entry.event_type, entry.producer) == ("PAID_BOOKING_EVENT", "payment")
    assert entry.occurred_at == envelope.occurred_at and entry.recorded_at >= entry.occurred_at
    assert entry.trace_id == trace


async def test_a_read_opens_no_transaction_and_cannot_commit(engine, new_uow) -> None:
    command = CreateBooking(customer_id="alice", item="Room", amount=Decimal("5.00"))
    booking = await handlers.create_booking(command, new_uow())
    async with new_uow().reading() as uow:
        assert (await uow.bookings.get(booking.id)) is not None
        raw = uow.sql.connection
        assert raw.autocommit  # no BEGIN before the query, no ROLLBACK after it
        assert raw.info.transaction_status == TransactionStatus.IDLE
        with pytest.raises(RuntimeError, match="cannot commit"):
            await uow.commit()
    async with new_uow() as uow:  # the next use of the unit of work writes again
        await uow.bookings.get(booking.id)
        raw = uow.sql.connection
        assert raw.info.transaction_status == TransactionStatus.INTRANS


async def test_a_journal_only_event_is_one_statement_without_a_transaction(engine, new_uow) -> None:
    event = PaidBooking(
        booking_id=uuid.uuid4(), customer_id="eve", item="R", amount=1, paid_at=datetime.now(UTC)
    )
    envelope = Envelope.wrap(event, "payment", causation_id=uuid.uuid4())
    sent: list[str] = []
    uow = new_uow().handling(envelope, "booking")
    original = uow._record_inbox

    async def watched(consumer, incoming):
        # Autocommit: no BEGIN was sent before the inbox-and-journal statement.
        sent.append(str(uow.sql.connection.autocommit))
        return await original(consumer, incoming)

    uow._record_inbox = watched
    await handlers.paid_booking(event, uow)
    assert sent == ["True"]
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 1
    assert await count_rows(engine, saga_journal, event_id=envelope.event_id) == 1
    with pytest.raises(AlreadyProcessed):  # a copy journals nothing more
        await handlers.paid_booking(event, new_uow().handling(envelope, "booking"))
    assert await count_rows(engine, saga_journal, event_id=envelope.event_id) == 1


async def test_a_batch_is_admitted_and_journaled_in_one_statement(
    engine, new_uow, monkeypatch
) -> None:
    command = CreateBooking(customer_id="eve", item="R", amount=Decimal("1.00"))
    booking = await handlers.create_booking(command, new_uow())
    created = booking.created_at

    def arrival(event, producer, offset: float) -> Envelope:
        envelope = Envelope.wrap(event, producer, causation_id=uuid.uuid4())
        return envelope.model_copy(update={"occurred_at": created + timedelta(seconds=offset)})

    rejected = RejectedBooking(booking_id=booking.id, customer_id="eve", reason="r")
    paid = PaidBooking(
        booking_id=booking.id, customer_id="eve", item="R", amount=1, paid_at=datetime.now(UTC)
    )
    earlier = arrival(paid, "payment", 1.0)  # handled before the batch
    first, second = arrival(paid, "payment", 3.0), arrival(rejected, "manager", 7.0)
    traces = {e.event_id: uuid.uuid4().hex for e in (earlier, first, second)}

    def headers(envelope: Envelope) -> dict[str, str]:
        return {"traceparent": f"00-{traces[envelope.event_id]}-00f067aa0ba902b7-01"}

    with continued(headers(earlier)):
        await handlers.paid_booking(paid, new_uow().handling(earlier, "booking"))

    steps: list[tuple[str, float]] = []
    monkeypatch.setattr(
        "booking.adapters.saga_metrics.step_ended", lambda kind, s: steps.append((kind, s))
    )
    opener = new_uow()
    batch = opener.batch()
    async with batch:
        batch.sql = counted = CountedSql(batch.sql.connection)
        arrivals = [(e, headers(e)) for e in (second, earlier, first, second)]
        fresh = await opener.admit(batch, "booking", arrivals)
        await batch.commit()
    assert fresh == {first.event_id, second.event_id}  # the earlier one and the copy: not new
    assert counted.runs == 1
    async with new_uow().reading() as uow:
        journal = await uow.journal.entries(booking.id)
    assert [(e.event_id, e.trace_id) for e in journal] == [
        (e.event_id, traces[e.event_id]) for e in (earlier, first, second)
    ]
    # Each step timed from the one before it: in the journal, or earlier in the batch.
    assert sorted(steps) == [("PAID_BOOKING_EVENT", 2.0), ("REJECTED_BOOKING_EVENT", 4.0)]
    assert await count_rows(engine, messaging.inbox, event_id=second.event_id) == 1


class CountedSql(Sql):
    """Counts the statements run on the connection."""

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self.runs = 0

    async def _run(self, statement, params):
        self.runs += 1
        return await super()._run(statement, params)
