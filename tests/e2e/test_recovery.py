"""Nothing lost, nothing twice: crashes, duplicates, poison messages, manual decisions."""

import asyncio
from decimal import Decimal

from sagakit.deadletter import DeadLetterQueue
from sagakit.events import EventType
from sagakit.testing import consumed, eventually, read_envelopes


async def envelopes_for(live, event_type: EventType, booking_id: str) -> list:
    envelopes = await read_envelopes(live.redis, live.stream(event_type))
    return [e for e in envelopes if str(e.booking_id) == booking_id]


async def test_a_service_killed_mid_saga_finishes_it_after_restart(streams) -> None:
    customer = await streams.customer(Decimal("500.00"))
    await streams.stack.kill("invoice")  # SIGKILL: no shutdown, no acks
    booking_id = await streams.book(customer)
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.stack.start("invoice")  # PAID_BOOKING_EVENT waited in the stream
    await streams.booking_status(booking_id, "reserved")
    assert len(await envelopes_for(streams, EventType.INVOICE_GENERATED_EVENT, booking_id)) == 1


async def test_booking_killed_right_after_accepting_a_booking_still_publishes_it(streams) -> None:
    customer = await streams.customer(Decimal("500.00"))
    booking_id = await streams.book(customer)
    await streams.stack.kill("booking")  # maybe before its relay published: the outbox keeps it
    await streams.stack.start("booking")
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "reserved")
    assert len(await envelopes_for(streams, EventType.CREATED_BOOKING_EVENT, booking_id)) >= 1


async def test_sagas_in_flight_survive_kill_9_of_every_service(streams) -> None:
    customers = [await streams.customer(Decimal("500.00")) for _ in range(6)]
    bookings = [await streams.book(customer) for customer in customers]
    for name in ("manager", "billing", "payment"):
        await streams.restart(name, crash=True)
    for booking_id in bookings:
        await streams.billed(booking_id)
        await streams.pay(booking_id)
    await streams.restart("invoice", crash=True)
    await streams.restart("booking", crash=True)
    for booking_id in bookings:
        await streams.booking_status(booking_id, "reserved")
        # One decision per step: a crash between the relay's publish and its mark may put
        # the same event on the stream twice (at least once), never a second event.
        for step in (EventType.BILLED_BOOKING_EVENT, EventType.PAID_BOOKING_EVENT):
            published = await envelopes_for(streams, step, booking_id)
            assert len({envelope.event_id for envelope in published}) == 1, published
    for customer in customers:  # and each effect once
        bills = await streams.client.find("billing", f"/bills?customer_id={customer}")
        invoices = await streams.client.find("invoice", f"/invoices?customer_id={customer}")
        assert bills is not None and bills["total"] == 1
        assert invoices is not None and invoices["total"] == 1


async def test_the_same_event_delivered_twice_gives_one_bill_and_one_invoice(streams) -> None:
    customer = await streams.customer(Decimal("500.00"))
    booking_id = await streams.book(customer)
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "reserved")
    for event_type in (EventType.APPROVED_BOOKING_EVENT, EventType.PAID_BOOKING_EVENT):
        stream = streams.stream(event_type)
        for _, fields in await streams.redis.xrange(stream):
            if booking_id.encode() in fields[b"__data__"]:
                await streams.redis.xadd(stream, fields)  # the very same message again
    for stream, group in (
        (EventType.APPROVED_BOOKING_EVENT, "billing"),
        (EventType.PAID_BOOKING_EVENT, "invoice"),
    ):
        name = streams.stream(stream)
        assert await eventually(lambda name=name, group=group: consumed(streams.redis, name, group))
    bills = await streams.client.find("billing", f"/bills?customer_id={customer}")
    invoices = await streams.client.find("invoice", f"/invoices?customer_id={customer}")
    assert bills is not None and bills["total"] == 1
    assert invoices is not None and invoices["total"] == 1
    assert len(await envelopes_for(streams, EventType.INVOICE_GENERATED_EVENT, booking_id)) == 1


async def test_a_malformed_message_is_dead_lettered_while_sagas_keep_flowing(streams) -> None:
    stream = streams.stream(EventType.APPROVED_BOOKING_EVENT)
    await streams.redis.xadd(stream, {"__data__": b'{"data": "{\\"not\\": \\"an envelope\\"}"}'})
    customer = await streams.customer(Decimal("500.00"))
    booking_id = await streams.book(customer)
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "reserved")
    queue = DeadLetterQueue(streams.redis, streams.prefix + "saga.dead-letters")

    async def both_consumers_gave_up() -> bool:
        letters = [letter for letter in await queue.list() if letter.origin == stream]
        return {letter.consumer for letter in letters} == {"billing", "booking"}

    assert await eventually(both_consumers_gave_up)
    letter = next(letter for letter in await queue.list() if letter.origin == stream)
    assert letter.error.startswith("malformed")
    assert b"not" in letter.raw[b"__data__"]


async def test_manual_approval_waits_for_the_manager_who_can_reject(streams) -> None:
    await streams.restart("manager", {"AUTO_APPROVE": "false"})
    try:
        customer = await streams.customer(Decimal("500.00"))
        rejected, approved = await streams.book(customer), await streams.book(customer)
        await streams.wait_for(
            "manager", f"/approvals/{rejected}", lambda a: a["status"] == "pending"
        )
        await asyncio.sleep(0.3)
        booking = await streams.client.find("booking", f"/bookings/{rejected}")
        assert booking is not None and booking["status"] == "pending"
        await streams.client.decide(rejected, approve=False, reason="no rooms left")
        booking = await streams.booking_status(rejected, "rejected")
        assert booking["reason"] == "no rooms left"
        assert await streams.client.find("billing", f"/bills/{rejected}") is None
        await streams.wait_for(
            "manager", f"/approvals/{approved}", lambda a: a["status"] == "pending"
        )
        await streams.client.decide(approved, approve=True)
        await streams.billed(approved)
    finally:
        await streams.restart("manager", {"AUTO_APPROVE": "true"})


async def test_kill_9_in_the_middle_of_a_batch_loses_and_duplicates_nothing(streams) -> None:
    # Billing is down while twelve sagas are approved: their events wait in one stream,
    # and the next read takes them as one batch. Billing is killed at several moments
    # of reading and handling it (before, during, after its one commit), then let be.
    customers = [await streams.customer(Decimal("500.00")) for _ in range(12)]
    await streams.stack.kill("billing")
    bookings = [await streams.book(customer) for customer in customers]
    await asyncio.sleep(1.0)  # the manager approved them all meanwhile
    for delay in (0.3, 0.6, 0.9):
        await streams.stack.start("billing")
        await asyncio.sleep(delay)
        await streams.stack.kill("billing")  # SIGKILL: no rollback, no acks, no relay drain
    await streams.stack.start("billing")
    for booking_id in bookings:
        await streams.billed(booking_id)
        await streams.pay(booking_id)
    for customer, booking_id in zip(customers, bookings, strict=True):
        await streams.booking_status(booking_id, "reserved")
        query = f"?customer_id={customer}"
        assert (await streams.client.find("billing", "/bills" + query))["total"] == 1
        assert (await streams.client.find("invoice", "/invoices" + query))["total"] == 1
        credit = await streams.client.find("payment", f"/customers/{customer}")
        assert Decimal(credit["credit"]) == Decimal("380.00")  # charged once
