import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from billing.adapters.orm import bills, messaging, metadata
from billing.domain.model import Bill, BillStatus
from billing.service_layer import handlers
from sagakit.errors import NotFound
from sagakit.events import ApprovedBooking, Envelope, InsufficientFund
from sagakit.testing import DATABASE_PREFIX, check_migrations, count_rows
from sagakit.uow import AlreadyProcessed


def approval(booking_id: uuid.UUID | None = None) -> tuple[ApprovedBooking, Envelope]:
    event = ApprovedBooking(
        booking_id=booking_id or uuid.uuid4(),
        customer_id="alice",
        item="Room",
        amount=Decimal("99.90"),
    )
    return event, Envelope.wrap(event, "manager", causation_id=None)


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations("billing:migrations", metadata, f"{DATABASE_PREFIX}billing_migrations")


async def test_bill_and_its_event_commit_together(engine, new_uow) -> None:
    event, envelope = approval()
    await handlers.approved_booking(event, new_uow().handling(envelope, "billing"))
    assert await count_rows(engine, bills, booking_id=event.booking_id) == 1
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(messaging.outbox).where(messaging.outbox.c.booking_id == event.booking_id)
            )
        ).one()
    billed = Envelope.model_validate_json(row.body)
    assert billed.event_type == "BILLED_BOOKING_EVENT"
    assert billed.causation_id == envelope.event_id
    assert billed.payload["amount"] == "99.90"


async def test_a_failed_transaction_leaves_neither_bill_nor_event(engine, new_uow) -> None:
    bill = Bill.issue(uuid.uuid4(), "alice", "Room", Decimal("10.00"))
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.bills.add(bill)
            raise RuntimeError("crash before commit")
    assert await count_rows(engine, bills, booking_id=bill.booking_id) == 0
    assert await count_rows(engine, messaging.outbox, booking_id=bill.booking_id) == 0


async def test_the_database_refuses_a_second_bill_for_one_booking(engine, new_uow) -> None:
    event, envelope = approval()
    await handlers.approved_booking(event, new_uow().handling(envelope, "billing"))
    now = datetime.now(UTC)
    second = {
        "id": uuid.uuid4(),
        "booking_id": event.booking_id,
        "customer_id": "alice",
        "item": "Room",
        "amount": Decimal("1.00"),
        "status": BillStatus.PENDING.value,
        "created_at": now,
        "updated_at": now,
    }
    with pytest.raises(IntegrityError, match="uq_bills_booking_id"):
        async with engine.begin() as conn:
            await conn.execute(insert(bills).values(**second))
    assert await count_rows(engine, bills, booking_id=event.booking_id) == 1


async def test_a_second_approval_with_a_new_event_id_issues_nothing(engine, new_uow) -> None:
    event, envelope = approval()
    await handlers.approved_booking(event, new_uow().handling(envelope, "billing"))
    again, republished = approval(event.booking_id)
    await handlers.approved_booking(again, new_uow().handling(republished, "billing"))
    assert await count_rows(engine, bills, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.inbox, event_id=republished.event_id) == 1


async def test_two_approvals_racing_for_one_booking_issue_one_bill(engine, new_uow) -> None:
    event, envelope = approval()
    _, republished = approval(event.booking_id)
    # Both enter their transactions before either inserts: the second insert waits on
    # the first's key, then adds nothing (no unique violation, no retry).
    first, second = (
        new_uow().handling(envelope, "billing"),
        new_uow().handling(republished, "billing"),
    )
    async with first, second:
        assert await first.bills.add(Bill.issue(event.booking_id, "alice", "Room", event.amount))
        blocked = asyncio.create_task(
            second.bills.add(Bill.issue(event.booking_id, "alice", "Room", event.amount))
        )
        await asyncio.sleep(0.2)
        assert not blocked.done()  # waits for the first transaction
        await first.commit()
        assert await blocked is False
        await second.commit()
    assert await count_rows(engine, bills, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.inbox, event_id=republished.event_id) == 1


async def test_an_event_delivered_twice_changes_state_once(engine, new_uow) -> None:
    event, envelope = approval()
    await handlers.approved_booking(event, new_uow().handling(envelope, "billing"))
    shortfall = InsufficientFund(
        booking_id=event.booking_id,
        customer_id="alice",
        amount=Decimal("99.90"),
        available_credit=Decimal("5.00"),
    )
    failed = Envelope.wrap(shortfall, "payment", causation_id=None)
    await handlers.insufficient_fund(shortfall, new_uow().handling(failed, "billing"))
    with pytest.raises(AlreadyProcessed):
        await handlers.insufficient_fund(shortfall, new_uow().handling(failed, "billing"))
    assert await count_rows(engine, messaging.inbox, event_id=failed.event_id) == 1
    async with new_uow() as uow:
        stored = await uow.bills.get_by_booking(event.booking_id)
    assert stored is not None and stored.status is BillStatus.FAILED


async def test_an_outcome_for_an_unknown_bill_is_not_recorded_as_handled(engine, new_uow) -> None:
    event = InsufficientFund(
        booking_id=uuid.uuid4(),
        customer_id="bob",
        amount=Decimal("1.00"),
        available_credit=Decimal("0.00"),
    )
    envelope = Envelope.wrap(event, "payment", causation_id=None)
    with pytest.raises(NotFound):
        await handlers.insufficient_fund(event, new_uow().handling(envelope, "billing"))
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 0
