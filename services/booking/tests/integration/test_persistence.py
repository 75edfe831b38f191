import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select

from booking.adapters.orm import bookings, messaging, metadata, saga_journal
from booking.domain.commands import CreateBooking
from booking.domain.model import Booking, BookingStatus
from booking.service_layer import handlers
from sagakit.events import Envelope, PaidBooking, RejectedBooking
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
