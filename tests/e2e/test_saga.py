"""The booking saga across five real processes: happy path, compensation, both transports."""

import asyncio
from decimal import Decimal

import pytest

from sagakit.testing import read_envelopes, read_messages
from sagakit.tracing import trace_id


@pytest.mark.cluster
async def test_a_paid_booking_is_reserved_with_its_invoice(saga) -> None:
    customer = await saga.customer(Decimal("500.00"))
    booking_id = await saga.book(customer, Decimal("120.00"))
    payment = await saga.billed(booking_id)
    assert payment["amount_due"] == "120.00"
    assert (await saga.pay(booking_id))["status"] == "paid"
    booking = await saga.booking_status(booking_id, "reserved")
    assert booking["reason"] is None
    invoice = await saga.wait_for("invoice", f"/invoices/{booking_id}", lambda i: True)
    assert invoice["customer_id"] == customer
    assert invoice["total"] == "120.00"
    assert invoice["number"].startswith("INV-")
    assert [line["amount"] for line in invoice["lines"]] == ["120.00"]
    bill = await saga.wait_for("billing", f"/bills/{booking_id}", lambda b: b["status"] == "paid")
    assert bill["amount"] == "120.00"
    approval = await saga.client.find("manager", f"/approvals/{booking_id}")
    assert approval is not None and approval["status"] == "approved"
    credit = await saga.client.find("payment", f"/customers/{customer}")
    assert credit is not None and credit["credit"] == "380.00"


@pytest.mark.cluster
async def test_insufficient_funds_fails_booking_and_bill(saga) -> None:
    customer = await saga.customer(Decimal("50.00"))
    booking_id = await saga.book(customer, Decimal("120.00"))
    await saga.billed(booking_id)
    assert (await saga.pay(booking_id))["status"] == "insufficient_funds"
    booking = await saga.booking_status(booking_id, "failed")
    assert "insufficient funds" in booking["reason"]
    await saga.wait_for("billing", f"/bills/{booking_id}", lambda b: b["status"] == "failed")
    assert await saga.client.find("invoice", f"/invoices/{booking_id}") is None
    credit = await saga.client.find("payment", f"/customers/{customer}")
    assert credit is not None and credit["credit"] == "50.00"


@pytest.mark.cluster
async def test_paying_before_the_bill_exists_is_a_conflict(saga) -> None:
    response = await saga.client.pay("00000000-0000-4000-8000-000000000000", "cust-early")
    assert response.status_code == 409
    assert "no bill" in response.json()["detail"]


async def test_concurrent_double_payment_charges_once(streams) -> None:
    customer = await streams.customer(Decimal("200.00"))
    booking_id = await streams.book(customer, Decimal("120.00"))
    await streams.billed(booking_id)
    results = await asyncio.gather(*(streams.pay(booking_id) for _ in range(10)))
    assert {result["status"] for result in results} == {"paid"}
    await streams.booking_status(booking_id, "reserved")
    credit = await streams.client.find("payment", f"/customers/{customer}")
    assert credit is not None and credit["credit"] == "80.00"
    paid = [
        e
        for e in await read_envelopes(streams.redis, streams.stream("PAID_BOOKING_EVENT"))
        if str(e.booking_id) == booking_id
    ]
    assert len(paid) == 1


async def test_every_event_names_its_cause_and_carries_the_saga_trace(streams) -> None:
    customer = await streams.customer(Decimal("500.00"))
    booking_id = await streams.book(customer)
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "reserved")
    chain, traces = {}, set()
    for event_type in (
        "CREATED_BOOKING",
        "APPROVED_BOOKING",
        "BILLED_BOOKING",
        "INVOICE_GENERATED",
    ):
        messages = await read_messages(streams.redis, streams.stream(f"{event_type}_EVENT"))
        [(chain[event_type], headers)] = [
            (e, h) for e, h in messages if str(e.booking_id) == booking_id
        ]
        traces.add(trace_id(headers))
    assert chain["CREATED_BOOKING"].causation_id is None
    assert chain["APPROVED_BOOKING"].causation_id == chain["CREATED_BOOKING"].event_id
    assert chain["BILLED_BOOKING"].causation_id == chain["APPROVED_BOOKING"].event_id
    assert {e.producer for e in chain.values()} == {"booking", "manager", "billing", "invoice"}
    [saga_trace] = traces  # one W3C trace id travels with every message of the saga
    assert saga_trace is not None
