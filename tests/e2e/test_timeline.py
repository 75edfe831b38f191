"""The booking's saga timeline across five real processes: causal order, one trace, what's next."""

import asyncio
import os
import re
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from sagactl.client import SERVICES

HAPPY = [
    "CREATED_BOOKING_EVENT",
    "APPROVED_BOOKING_EVENT",
    "BILLED_BOOKING_EVENT",
    "PAID_BOOKING_EVENT",
    "INVOICE_GENERATED_EVENT",
]
COMPENSATED = [*HAPPY[:3], "INSUFFICIENT_FUND_EVENT"]


async def timeline_with(live, booking_id: str, event_types: list[str]) -> dict[str, Any]:
    """The timeline once every expected event is journaled (each service runs at its pace)."""
    return await live.wait_for(
        "booking",
        f"/bookings/{booking_id}/timeline",
        lambda t: {s["event_type"] for s in t["steps"]} >= set(event_types),
    )


def assert_one_saga(timeline: dict[str, Any], event_types: list[str]) -> None:
    steps = timeline["steps"]
    assert [step["event_type"] for step in steps] == event_types
    traces = {step["trace_id"] for step in steps}
    assert len(traces) == 1 and None not in traces, traces
    assert timeline["trace_id"] in traces
    occurred = [datetime.fromisoformat(step["occurred_at"]) for step in steps]
    assert occurred == sorted(occurred)
    assert all(step["since_previous_ms"] >= 0 for step in steps)
    assert timeline["finished"] and timeline["expected_next"] is None
    assert timeline["duration_ms"] > 0 and timeline["ended_at"] is not None


@pytest.mark.cluster
async def test_a_reserved_saga_is_told_in_causal_order_in_one_trace(saga) -> None:
    customer = await saga.customer(Decimal("500.00"))
    booking_id = await saga.book(customer)
    await saga.billed(booking_id)
    waiting = await timeline_with(saga, booking_id, HAPPY[:3])
    assert waiting["status"] == "approved" and not waiting["finished"]
    assert waiting["expected_next"]["producer"] == "payment"
    assert waiting["expected_next"]["event_types"] == [
        "PAID_BOOKING_EVENT",
        "INSUFFICIENT_FUND_EVENT",
        "PAYMENT_EXPIRED_EVENT",
    ]
    await saga.pay(booking_id)
    await saga.booking_status(booking_id, "reserved")
    timeline = await timeline_with(saga, booking_id, HAPPY)
    assert timeline["status"] == "reserved"
    assert_one_saga(timeline, HAPPY)
    by_type = {step["event_type"]: step for step in timeline["steps"]}
    assert by_type["APPROVED_BOOKING_EVENT"]["producer"] == "manager"
    assert by_type["INVOICE_GENERATED_EVENT"]["producer"] == "invoice"


@pytest.mark.cluster
async def test_a_compensated_saga_ends_with_insufficient_funds(saga) -> None:
    customer = await saga.customer(Decimal("50.00"))
    booking_id = await saga.book(customer)
    await saga.billed(booking_id)
    await saga.pay(booking_id)
    await saga.booking_status(booking_id, "failed")
    timeline = await timeline_with(saga, booking_id, COMPENSATED)
    assert timeline["status"] == "failed"
    assert_one_saga(timeline, COMPENSATED)


async def test_sagactl_status_prints_the_timeline_and_what_comes_next(streams) -> None:
    customer = await streams.customer(Decimal("10.00"))
    booking_id = await streams.book(customer, Decimal("99.00"))
    await streams.billed(booking_id)
    await timeline_with(streams, booking_id, HAPPY[:3])
    env = {
        **os.environ,
        **{f"SAGA_{name.upper()}_URL": streams.url(name) for name in SERVICES},
        "SAGA_DEV_KEY_FILE": str(streams.stack.dev_key_file),
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sagactl",
        "status",
        booking_id,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    for expected in ("bill pending 99.00", "Timeline: approved, running", "BILLED_BOOKING_EVENT"):
        assert expected in output
    next_step = "PAID_BOOKING_EVENT or INSUFFICIENT_FUND_EVENT or PAYMENT_EXPIRED_EVENT"
    assert f"next: {next_step} from payment" in output
    assert re.search(r"deadline: payment expires in \d+m \d+s", output), output
