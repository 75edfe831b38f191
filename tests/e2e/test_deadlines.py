"""Deadlines across five real processes, on both transports: nobody pays, nobody decides."""

from decimal import Decimal

import pytest

from sagactl.client import ApiError
from sagakit.testing import read_envelopes


async def pending_approval(deadlines, booking_id: str) -> dict:
    return await deadlines.wait_for(
        "manager", f"/approvals/{booking_id}", lambda a: a["status"] == "pending"
    )


async def test_an_unpaid_booking_expires_its_bill_is_cancelled_and_a_late_payment_is_refused(
    deadlines,
) -> None:
    customer = await deadlines.customer(Decimal("500.00"))
    booking_id = await deadlines.book(customer, Decimal("120.00"))
    await pending_approval(deadlines, booking_id)
    await deadlines.client.decide(booking_id, approve=True)
    payment = await deadlines.billed(booking_id)
    assert payment["expires_at"] is not None
    # Nobody pays: the deadline (PAYMENT_TIMEOUT_SECONDS=2) passes and compensates.
    booking = await deadlines.booking_status(booking_id, "expired")
    assert booking["reason"] == "payment timed out"
    bill = await deadlines.wait_for(
        "billing", f"/bills/{booking_id}", lambda b: b["status"] == "cancelled"
    )
    assert bill["reason"] == "payment timed out"
    payment = await deadlines.wait_for(
        "payment", f"/payments/{booking_id}", lambda p: p["status"] == "expired"
    )
    assert payment["amount_due"] == "0.00"
    late = await deadlines.client.pay(booking_id, customer)
    assert late.status_code == 409
    assert "expired" in late.json()["detail"] and "nothing was charged" in late.json()["detail"]
    credit = await deadlines.client.find("payment", f"/customers/{customer}")
    assert credit is not None and credit["credit"] == "500.00"
    assert await deadlines.client.find("invoice", f"/invoices/{booking_id}") is None
    timeline = await deadlines.client.timeline(booking_id)
    assert isinstance(timeline, dict) and timeline["finished"]
    assert timeline["steps"][-1]["event_type"] == "PAYMENT_EXPIRED_EVENT"
    # The sweep has no request to continue: the event carries the saga's stored trace.
    assert len({step["trace_id"] for step in timeline["steps"]}) == 1
    if deadlines.stack.extra_env["EVENT_TRANSPORT"] == "streams":
        expired = await read_envelopes(deadlines.redis, deadlines.stream("PAYMENT_EXPIRED_EVENT"))
        assert [e.producer for e in expired if str(e.booking_id) == booking_id] == ["payment"]


async def test_an_undecided_booking_is_rejected_when_its_approval_times_out(deadlines) -> None:
    customer = await deadlines.customer(Decimal("500.00"))
    booking_id = await deadlines.book(customer, Decimal("80.00"))
    approval = await pending_approval(deadlines, booking_id)
    assert approval["expires_at"] is not None
    # Nobody decides: APPROVAL_TIMEOUT_SECONDS=3 passes.
    booking = await deadlines.booking_status(booking_id, "rejected")
    assert booking["reason"] == "approval timed out"
    approval = await deadlines.client.find("manager", f"/approvals/{booking_id}")
    assert approval is not None and approval["status"] == "rejected"
    timeline = await deadlines.client.timeline(booking_id)
    assert isinstance(timeline, dict) and timeline["finished"]
    assert [step["event_type"] for step in timeline["steps"]][-1] == "REJECTED_BOOKING_EVENT"
    assert len({step["trace_id"] for step in timeline["steps"]}) == 1
    with pytest.raises(ApiError) as late:
        await deadlines.client.decide(booking_id, approve=True)
    assert late.value.status_code == 409 and "timed out" in str(late.value)
    assert await deadlines.client.find("billing", f"/bills/{booking_id}") is None
    credit = await deadlines.client.find("payment", f"/customers/{customer}")
    assert credit is not None and credit["credit"] == "500.00"
