"""Races on the real database: row locks make every charge happen exactly once."""

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payment.adapters.orm import messaging
from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import PaymentStatus
from payment.service_layer import handlers
from sagakit.events import BilledBooking, Envelope

TIMEOUT = timedelta(minutes=15)


async def open_payment(new_uow, customer_id: str, amount: str) -> uuid.UUID:
    event = BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer_id,
        item="Room",
        amount=Decimal(amount),
    )
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await handlers.billed_booking(event, new_uow().handling(envelope, "payment"), timeout=TIMEOUT)
    return event.booking_id


async def outbox_types(engine: AsyncEngine, booking_id: uuid.UUID) -> list[str]:
    query = select(messaging.outbox.c.event_type).where(messaging.outbox.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return list((await conn.scalars(query)).all())


async def credit_of(new_uow, customer_id: str) -> Decimal:
    async with new_uow() as uow:
        customer = await uow.customers.get(customer_id)
    assert customer is not None
    return customer.credit


async def test_ten_concurrent_submissions_debit_once_and_publish_once(engine, new_uow) -> None:
    alice = f"c{uuid.uuid4().hex[:12]}"
    booking_id = await open_payment(new_uow, alice, "40.00")
    await handlers.set_credit(SetCredit(alice, Decimal("100.00")), new_uow())
    results = await asyncio.gather(
        *(handlers.submit_payment(SubmitPayment(booking_id), new_uow()) for _ in range(10))
    )
    assert {payment.status for payment in results} == {PaymentStatus.PAID}
    assert len({payment.settled_at for payment in results}) == 1
    assert await credit_of(new_uow, alice) == Decimal("60.00")
    assert await outbox_types(engine, booking_id) == ["PAID_BOOKING_EVENT"]


async def test_two_bookings_racing_for_credit_enough_for_one_pay_exactly_one(
    engine, new_uow
) -> None:
    alice = f"c{uuid.uuid4().hex[:12]}"
    first = await open_payment(new_uow, alice, "70.00")
    second = await open_payment(new_uow, alice, "70.00")
    await handlers.set_credit(SetCredit(alice, Decimal("100.00")), new_uow())
    results = await asyncio.gather(
        *(handlers.submit_payment(SubmitPayment(b), new_uow()) for b in (first, second))
    )
    assert sorted(payment.status for payment in results) == [
        PaymentStatus.INSUFFICIENT_FUNDS,
        PaymentStatus.PAID,
    ]
    assert await credit_of(new_uow, alice) == Decimal("30.00")
    events = await outbox_types(engine, first) + await outbox_types(engine, second)
    assert sorted(events) == ["INSUFFICIENT_FUND_EVENT", "PAID_BOOKING_EVENT"]
    refused = next(p for p in results if p.status is PaymentStatus.INSUFFICIENT_FUNDS)
    [body] = await _outbox_bodies(engine, refused.booking_id)
    assert Envelope.model_validate_json(body).payload["available_credit"] == "30.00"


async def test_concurrent_first_credit_settings_for_a_new_customer_all_succeed(new_uow) -> None:
    alice = f"c{uuid.uuid4().hex[:12]}"
    amounts = [Decimal(f"{n}.00") for n in range(1, 9)]
    await asyncio.gather(*(handlers.set_credit(SetCredit(alice, a), new_uow()) for a in amounts))
    assert await credit_of(new_uow, alice) in amounts


async def _outbox_bodies(engine: AsyncEngine, booking_id: uuid.UUID) -> list[str]:
    query = select(messaging.outbox.c.body).where(messaging.outbox.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return list((await conn.scalars(query)).all())
