"""Payment deadlines on the real database: swept once by several replicas, decided once."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from payment.adapters.orm import messaging, payments
from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import PaymentStatus
from payment.service_layer import handlers
from payment.service_layer.handlers import PaymentExpiredConflict
from sagakit.deadlines import Deadline, sweep_once
from sagakit.events import BilledBooking, Envelope

TIMEOUT = timedelta(minutes=15)
EXPIRY = Deadline("payment_expired", handlers.expire_due_payments)


def customer_id() -> str:
    return f"c{uuid.uuid4().hex[:12]}"


async def open_payment(new_uow, customer: str, amount: str = "40.00") -> uuid.UUID:
    event = BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer,
        item="Room",
        amount=Decimal(amount),
    )
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await handlers.billed_booking(event, new_uow().handling(envelope, "payment"), timeout=TIMEOUT)
    return event.booking_id


async def due_at(engine: AsyncEngine, booking_id: uuid.UUID, when: datetime) -> None:
    """Move a payment's deadline (as if the time had passed, or the service had been down)."""
    statement = update(payments).where(payments.c.booking_id == booking_id)
    async with engine.begin() as conn:
        await conn.execute(statement.values(expires_at=when))


async def outbox(engine: AsyncEngine, booking_id: uuid.UUID) -> list[Envelope]:
    query = select(messaging.outbox.c.body).where(messaging.outbox.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return [Envelope.model_validate_json(b) for b in (await conn.scalars(query)).all()]


async def status_of(new_uow, booking_id: uuid.UUID) -> PaymentStatus:
    async with new_uow() as uow:
        payment = await uow.payments.get(booking_id)
    assert payment is not None
    return payment.status


async def credit_of(new_uow, customer: str) -> Decimal:
    async with new_uow() as uow:
        found = await uow.customers.get(customer)
    assert found is not None
    return found.credit


async def test_the_deadline_is_stored_when_the_request_opens(new_uow) -> None:
    before = datetime.now(UTC)
    booking_id = await open_payment(new_uow, customer_id())
    async with new_uow() as uow:
        payment = await uow.payments.get(booking_id)
    assert payment is not None and payment.expires_at is not None
    assert before + TIMEOUT <= payment.expires_at <= datetime.now(UTC) + TIMEOUT


async def test_a_deadline_already_past_at_start_fires_on_the_first_sweep(engine, new_uow) -> None:
    # The deadline fell an hour ago, while no service ran: the first sweep fires it.
    booking_id = await open_payment(new_uow, customer_id())
    await due_at(engine, booking_id, datetime.now(UTC) - timedelta(hours=1))
    assert await sweep_once(EXPIRY, new_uow, 100, "payment") >= 1
    assert await status_of(new_uow, booking_id) is PaymentStatus.EXPIRED
    [envelope] = await outbox(engine, booking_id)
    assert envelope.event_type == "PAYMENT_EXPIRED_EVENT" and envelope.producer == "payment"
    assert envelope.payload["reason"] == "payment timed out"
    assert envelope.payload["amount"] == "40.00"
    await sweep_once(EXPIRY, new_uow, 100, "payment")  # a second sweep never fires it again
    assert len(await outbox(engine, booking_id)) == 1


async def test_a_payment_not_due_yet_is_left_alone(engine, new_uow) -> None:
    booking_id = await open_payment(new_uow, customer_id())
    await sweep_once(EXPIRY, new_uow, 100, "payment")
    assert await status_of(new_uow, booking_id) is PaymentStatus.AWAITING_PAYMENT
    assert await outbox(engine, booking_id) == []


async def test_two_sweepers_on_the_same_due_rows_fire_each_exactly_once(engine, new_uow) -> None:
    bookings = [await open_payment(new_uow, customer_id()) for _ in range(30)]
    past = datetime.now(UTC) - timedelta(seconds=1)
    for booking_id in bookings:
        await due_at(engine, booking_id, past)
    fired = await asyncio.gather(
        sweep_once(EXPIRY, new_uow, 4, "payment"), sweep_once(EXPIRY, new_uow, 4, "payment")
    )
    assert sum(fired) >= len(bookings)
    for booking_id in bookings:
        assert await status_of(new_uow, booking_id) is PaymentStatus.EXPIRED
        assert [e.event_type for e in await outbox(engine, booking_id)] == ["PAYMENT_EXPIRED_EVENT"]


async def test_a_payment_submitted_after_its_deadline_expires_and_charges_nothing(
    engine, new_uow
) -> None:
    alice = customer_id()
    booking_id = await open_payment(new_uow, alice)
    await handlers.set_credit(SetCredit(alice, Decimal("100.00")), new_uow())
    await due_at(engine, booking_id, datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(PaymentExpiredConflict, match="nothing was charged"):
        await handlers.submit_payment(SubmitPayment(booking_id), new_uow())
    # The submission expired it under its lock (the sweep had not come by): committed.
    assert await status_of(new_uow, booking_id) is PaymentStatus.EXPIRED
    assert [e.event_type for e in await outbox(engine, booking_id)] == ["PAYMENT_EXPIRED_EVENT"]
    with pytest.raises(PaymentExpiredConflict):
        await handlers.submit_payment(SubmitPayment(booking_id), new_uow())
    await sweep_once(EXPIRY, new_uow, 100, "payment")
    assert len(await outbox(engine, booking_id)) == 1
    assert await credit_of(new_uow, alice) == Decimal("100.00")


WINDOW = 0.3  # seconds in which the deadline falls and the submissions arrive


async def _submit(new_uow, booking_id: uuid.UUID) -> str:
    await asyncio.sleep(random.uniform(0, WINDOW))
    try:
        await handlers.submit_payment(SubmitPayment(booking_id), new_uow())
    except PaymentExpiredConflict:
        return "refused"
    return "accepted"


async def _sweep(new_uow, rounds: int = 20) -> None:
    for _ in range(rounds):
        await sweep_once(EXPIRY, new_uow, 100, "payment")
        await asyncio.sleep(WINDOW / rounds)


async def test_payment_and_expiry_racing_are_decided_once(engine, new_uow) -> None:
    outcomes: dict[PaymentStatus, int] = {}
    for _ in range(25):
        alice = customer_id()
        booking_id = await open_payment(new_uow, alice, "40.00")
        await handlers.set_credit(SetCredit(alice, Decimal("100.00")), new_uow())
        # The deadline falls in the middle of the submissions and the sweeps.
        soon = datetime.now(UTC) + timedelta(seconds=random.uniform(0, WINDOW))
        await due_at(engine, booking_id, soon)
        answers = await asyncio.gather(
            _submit(new_uow, booking_id),
            _submit(new_uow, booking_id),
            _sweep(new_uow),
            _sweep(new_uow),
        )
        await _sweep(new_uow, rounds=1)
        status = await status_of(new_uow, booking_id)
        events = [e.event_type for e in await outbox(engine, booking_id)]
        credit = await credit_of(new_uow, alice)
        outcomes[status] = outcomes.get(status, 0) + 1
        if status is PaymentStatus.PAID:
            assert events == ["PAID_BOOKING_EVENT"]
            assert credit == Decimal("60.00")  # charged once
            assert "accepted" in answers[:2]
        else:
            assert status is PaymentStatus.EXPIRED
            assert events == ["PAYMENT_EXPIRED_EVENT"]
            assert credit == Decimal("100.00")  # charged never
            assert "accepted" not in answers[:2]
    assert set(outcomes) <= {PaymentStatus.PAID, PaymentStatus.EXPIRED}
