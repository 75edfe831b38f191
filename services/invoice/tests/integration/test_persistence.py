import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from psycopg import IntegrityError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from invoice.adapters.orm import invoices, messaging, metadata
from invoice.domain.model import Invoice
from invoice.service_layer import handlers
from sagakit.db import normalize_url
from sagakit.events import Envelope, PaidBooking
from sagakit.migrations import downgrade, migrate
from sagakit.testing import DATABASE_PREFIX, check_migrations, count_rows, database_url
from sagakit.uow import AlreadyProcessed

MIGRATIONS = "invoice:migrations"


async def has_sequence(url: str) -> bool:
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    query = text("SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname = :name")
    async with engine.connect() as conn:
        found = await conn.scalar(query, {"name": "invoice_number_seq"})
    await engine.dispose()
    return bool(found)


def paid(booking_id: uuid.UUID | None = None, customer_id: str = "alice") -> PaidBooking:
    return PaidBooking(
        booking_id=booking_id or uuid.uuid4(),
        customer_id=customer_id,
        item="Room 7",
        amount=Decimal("99.90"),
        paid_at=datetime.now(UTC),
    )


def new_invoice(number: str, booking_id: uuid.UUID | None = None) -> Invoice:
    event = paid(booking_id)
    return Invoice.generate(
        event.booking_id, number, event.customer_id, event.item, event.amount, event.paid_at
    )


async def deliver(event: PaidBooking, new_uow, envelope: Envelope | None = None) -> Envelope:
    envelope = envelope or Envelope.wrap(event, "payment", causation_id=None)
    await handlers.paid_booking(event, new_uow().handling(envelope, "invoice"))
    return envelope


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations(MIGRATIONS, metadata, f"{DATABASE_PREFIX}invoice_migrations")
    url = database_url(f"{DATABASE_PREFIX}invoice_migrations")
    assert await has_sequence(url)
    await downgrade(MIGRATIONS, url, "base")
    assert not await has_sequence(url)
    await migrate(MIGRATIONS, url)
    assert await has_sequence(url)


async def test_invoice_and_its_event_commit_together(engine, new_uow) -> None:
    event = paid()
    envelope = await deliver(event, new_uow)
    async with new_uow() as uow:
        invoice = await uow.invoices.get(event.booking_id)
    assert invoice is not None and invoice.total == Decimal("99.90")
    assert invoice.lines[0].unit_price == Decimal("99.90") and invoice.lines[0].quantity == 1
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(messaging.outbox).where(messaging.outbox.c.booking_id == event.booking_id)
            )
        ).one()
    published = Envelope.model_validate_json(row.body)
    assert published.event_type == "INVOICE_GENERATED_EVENT"
    assert published.causation_id == envelope.event_id
    assert published.payload == {
        "invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "total": "99.90",
    }


async def test_lines_are_stored_with_money_as_strings(engine, new_uow) -> None:
    event = paid()
    await deliver(event, new_uow)
    async with engine.connect() as conn:
        lines = await conn.scalar(
            select(invoices.c.lines).where(invoices.c.booking_id == event.booking_id)
        )
    assert lines == [
        {"description": "Room 7", "quantity": 1, "unit_price": "99.90", "amount": "99.90"}
    ]


async def test_a_failed_transaction_leaves_neither_invoice_nor_event(engine, new_uow) -> None:
    invoice = new_invoice(f"TEST-{uuid.uuid4().hex[:8]}")
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.invoices.add(invoice)
            raise RuntimeError("crash before commit")
    assert await count_rows(engine, invoices, id=invoice.id) == 0
    assert await count_rows(engine, messaging.outbox, booking_id=invoice.booking_id) == 0


async def test_the_database_allows_one_invoice_per_booking(new_uow) -> None:
    booking_id = uuid.uuid4()
    async with new_uow() as uow:
        await uow.invoices.add(new_invoice(f"TEST-{uuid.uuid4().hex[:8]}", booking_id))
        await uow.commit()
    with pytest.raises(IntegrityError, match="uq_invoices_booking_id"):
        async with new_uow() as uow:
            await uow.invoices.add(new_invoice(f"TEST-{uuid.uuid4().hex[:8]}", booking_id))


async def test_the_database_never_reuses_an_invoice_number(new_uow) -> None:
    number = f"TEST-{uuid.uuid4().hex[:8]}"
    async with new_uow() as uow:
        await uow.invoices.add(new_invoice(number))
        await uow.commit()
    with pytest.raises(IntegrityError, match="uq_invoices_number"):
        async with new_uow() as uow:
            await uow.invoices.add(new_invoice(number))


async def test_invoice_numbers_are_distinct_and_increasing(new_uow) -> None:
    booking_ids = []
    for _ in range(5):
        event = paid()
        await deliver(event, new_uow)
        booking_ids.append(event.booking_id)
    numbers = []
    async with new_uow() as uow:
        for booking_id in booking_ids:
            invoice = await uow.invoices.get(booking_id)
            assert invoice is not None
            numbers.append(invoice.number)
    year = datetime.now(UTC).year
    assert all(number.startswith(f"INV-{year}-") for number in numbers)
    sequence = [int(number.rsplit("-", 1)[1]) for number in numbers]
    assert sequence == sorted(set(sequence))


async def test_an_event_delivered_twice_generates_one_invoice(engine, new_uow) -> None:
    event = paid()
    envelope = await deliver(event, new_uow)
    with pytest.raises(AlreadyProcessed):
        await deliver(event, new_uow, envelope)
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 1
    assert await count_rows(engine, invoices, booking_id=event.booking_id) == 1


async def test_a_second_paid_event_for_the_booking_is_recorded_but_adds_nothing(
    engine, new_uow
) -> None:
    event = paid()
    await deliver(event, new_uow)
    again = await deliver(event, new_uow)
    assert await count_rows(engine, messaging.inbox, event_id=again.event_id) == 1
    assert await count_rows(engine, invoices, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 1
