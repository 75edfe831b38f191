import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.adapters.orm import bookings, messaging, metadata
from booking.domain.commands import CreateBooking
from booking.domain.model import Booking, BookingStatus
from booking.service_layer import handlers
from sagakit.events import Envelope, RejectedBooking
from sagakit.testing import check_migrations, count_rows
from sagakit.uow import AlreadyProcessed


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations("booking:migrations", metadata, "test_booking_migrations")


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
    async with new_uow() as uow:
        stored = await uow.bookings.get(booking.id)
    assert stored is not None and stored.status is BookingStatus.REJECTED


async def test_unknown_booking_event_is_not_recorded_as_handled(engine, new_uow) -> None:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="bob", reason="full")
    envelope = Envelope.wrap(event, "manager", causation_id=None)
    with pytest.raises(LookupError):
        await handlers.rejected_booking(event, new_uow().handling(envelope, "booking"))
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 0
