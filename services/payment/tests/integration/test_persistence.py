import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from payment.adapters.orm import customers, messaging, metadata, payments
from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import Customer, Payment, PaymentStatus
from payment.service_layer import handlers
from sagakit.events import BilledBooking, Envelope
from sagakit.testing import DATABASE_PREFIX, check_migrations, count_rows
from sagakit.uow import AlreadyProcessed

TIMEOUT = timedelta(minutes=15)


def bill(customer_id: str, amount: str = "30.00") -> BilledBooking:
    return BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer_id,
        item="Room",
        amount=Decimal(amount),
    )


async def open_payment(new_uow, event: BilledBooking) -> Envelope:
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await handlers.billed_booking(event, new_uow().handling(envelope, "payment"), timeout=TIMEOUT)
    return envelope


def customer_id() -> str:
    return f"c{uuid.uuid4().hex[:12]}"


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations("payment:migrations", metadata, f"{DATABASE_PREFIX}payment_migrations")


async def test_a_paid_payment_and_its_event_commit_together(engine, new_uow) -> None:
    alice = customer_id()
    event = bill(alice, "99.90")
    await open_payment(new_uow, event)
    await handlers.set_credit(SetCredit(alice, Decimal("100.00")), new_uow())
    await handlers.submit_payment(SubmitPayment(event.booking_id), new_uow())
    async with new_uow() as uow:
        stored = await uow.payments.get(event.booking_id)
        payer = await uow.customers.get(alice)
    assert stored is not None and stored.status is PaymentStatus.PAID
    assert payer is not None and payer.credit == Decimal("0.10")
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(messaging.outbox).where(messaging.outbox.c.booking_id == event.booking_id)
            )
        ).one()
    envelope = Envelope.model_validate_json(row.body)
    assert envelope.event_type == "PAID_BOOKING_EVENT" and envelope.producer == "payment"
    assert envelope.payload["amount"] == "99.90"


async def test_a_failed_transaction_leaves_neither_state_nor_event(engine, new_uow) -> None:
    payment = Payment.open(
        uuid.uuid4(), uuid.uuid4(), customer_id(), "Room", Decimal("5.00"), timedelta(minutes=15)
    )
    payment.settle(None)
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.payments.add(payment)
            raise RuntimeError("crash before commit")
    assert await count_rows(engine, payments, booking_id=payment.booking_id) == 0
    assert await count_rows(engine, messaging.outbox, booking_id=payment.booking_id) == 0


async def test_a_bill_delivered_twice_opens_one_payment(engine, new_uow) -> None:
    event = bill(customer_id())
    envelope = await open_payment(new_uow, event)
    with pytest.raises(AlreadyProcessed):
        await handlers.billed_booking(
            event, new_uow().handling(envelope, "payment"), timeout=TIMEOUT
        )
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 1
    assert await count_rows(engine, payments, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 0


async def test_a_second_bill_with_a_new_event_id_opens_nothing_more(engine, new_uow) -> None:
    event = bill(customer_id())
    await open_payment(new_uow, event)
    republished = await open_payment(new_uow, event)  # the same bill, a new event id
    async with new_uow() as uow:
        stored = await uow.payments.get(event.booking_id)
    assert stored is not None and stored.customer_id == event.customer_id
    assert await count_rows(engine, payments, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.inbox, event_id=republished.event_id) == 1


async def test_a_single_statement_block_opens_no_transaction(engine, new_uow) -> None:
    alice = Customer.new(customer_id())
    alice.set_credit(Decimal("5.00"))
    async with new_uow().single() as uow:
        await uow.customers.save(alice)
        # No BEGIN was sent: nothing is open, and the row is there for everyone already.
        assert uow.sql.connection.info.transaction_status == TransactionStatus.IDLE
        assert await count_rows(engine, customers, customer_id=alice.customer_id) == 1
        await uow.commit()  # nothing left to commit: no round trip
    async with new_uow() as uow:  # the pooled connection opens transactions again
        assert await uow.customers.get(alice.customer_id, for_update=True) == alice
        assert uow.sql.connection.info.transaction_status == TransactionStatus.INTRANS
        await uow.commit()


async def test_a_single_statement_block_refuses_to_store_an_event(engine, new_uow) -> None:
    payment = Payment.open(
        uuid.uuid4(), uuid.uuid4(), customer_id(), "Room", Decimal("5.00"), TIMEOUT
    )
    payment.settle(None)  # raises INSUFFICIENT_FUND_EVENT
    with pytest.raises(RuntimeError, match="single"):
        async with new_uow().single() as uow:
            uow.track(payment)
            await uow.commit()
    assert await count_rows(engine, messaging.outbox, booking_id=payment.booking_id) == 0


async def test_set_credit_upserts_and_replaces_the_stored_credit(engine, new_uow) -> None:
    alice = customer_id()
    await handlers.set_credit(SetCredit(alice, Decimal("50.00")), new_uow())
    await handlers.set_credit(SetCredit(alice, Decimal("20.00")), new_uow())
    async with engine.connect() as conn:
        query = select(customers.c.credit).where(customers.c.customer_id == alice)
        credit = await conn.scalar(query)
    assert credit == Decimal("20.00")


async def test_the_database_refuses_a_negative_credit(engine) -> None:
    with pytest.raises(IntegrityError, match="ck_customers_credit_not_negative"):
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO customers VALUES (:id, -1, now())"), {"id": customer_id()}
            )
